// Boost.Asio, compiled once, in libweft.
//
// routerd's control thread runs one io_context that the built-in element
// plugins (FPM, SVP, netlink services) use too. Header-only Asio would give
// each plugin (built with hidden visibility) its own copy of Asio's
// per-thread call stack, and reactor code instantiated in a plugin would
// then not find the thread running the io_context (a crash in
// epoll_reactor's compensating_work_started). With BOOST_ASIO_SEPARATE_COMPILATION
// (a public definition of the weft target) every module uses this one copy.
#include <boost/asio/impl/src.hpp>
