// Catch2 main for the unit tests. DPDK is started lazily, the first time a
// test asks for it (test_env.hpp), so pure tests stay fast.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
