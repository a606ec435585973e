// A shared object without a Weft manifest.
extern "C" int some_function() { return 42; }
