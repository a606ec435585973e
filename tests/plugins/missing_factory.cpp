// The manifest lists a class the plugin does not export.
#include "weft/plugin.hpp"

WEFT_PLUGIN("missing_factory", "1.0", "test", "Ghost");
