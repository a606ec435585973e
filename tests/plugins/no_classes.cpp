// A plugin with a manifest but no exported class: nothing to load.
#include "weft/plugin.hpp"

WEFT_PLUGIN("no_classes", "1.0", "test");
