// Boost.Asio's SSL support, compiled once (see runtime/asio.cpp: Weft builds with
// BOOST_ASIO_SEPARATE_COMPILATION). Lives in weft_fleet, the only part of
// Weft that speaks TLS (to etcd), so that libweft needs no OpenSSL.
#include <utility>  // Boost 1.74's Asio uses std::exchange without including <utility>
#include <boost/asio/ssl/impl/src.hpp>
