// Boost.Asio's compiled part, once, in libweft.
//
// Weft builds with BOOST_ASIO_SEPARATE_COMPILATION (a public compile
// definition of libweft, so routerd, the plugins and the tests all see it).
// Header-only Asio would put a private copy of its scheduler and reactor in
// every plugin (plugins hide their symbols), each with its own thread-local
// "which io_context runs on this thread" stack; a plugin's socket completing
// on routerd's control loop then finds none and crashes. Compiled once here,
// every DSO runs the same code on the same state.
#include <utility>  // Boost 1.74's Asio uses std::exchange without including <utility>
#include <boost/asio/impl/src.hpp>
