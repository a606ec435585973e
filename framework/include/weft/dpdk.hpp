// Single entry point for the DPDK headers Weft's public API needs. CMake marks
// DPDK's include directories as SYSTEM so its headers do not trip -Wvolatile.
#pragma once

#include <rte_config.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_version.h>

// "22.11": DPDK keeps its ABI stable within a year.month release line.
#define WEFT_DPDK_VERSION WEFT_STRINGIFY(RTE_VER_YEAR) "." WEFT_STRINGIFY(RTE_VER_MONTH)
