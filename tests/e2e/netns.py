"""The namespace lab helper lives with the lab runner (tools/lab/weftlab/netns.py);
tests import it from here as before: `from netns import Lab, wait_until`."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "lab"))
from weftlab.netns import Lab, wait_until  # noqa: E402,F401
