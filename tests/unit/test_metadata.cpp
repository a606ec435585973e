// Per-packet metadata through rte_mbuf dynamic fields.
#include <catch2/catch.hpp>

#include "test_env.hpp"
#include "weft/metadata.hpp"

using namespace weft;

TEST_CASE("metadata fields are registered by name and shared", "[metadata]") {
  test::eal();
  MetaField<uint32_t> vni("weft_test_vni");
  MetaField<uint32_t> same("weft_test_vni");
  MetaField<uint64_t> other("weft_test_flow");
  REQUIRE(vni.valid());
  CHECK(vni.offset() == same.offset());
  CHECK(other.offset() != vni.offset());
  rte_mbuf* m = test::packet({1, 2, 3});
  vni(m) = 4242;
  other(m) = 7;
  CHECK(same(m) == 4242);
  CHECK(other(m) == 7);
  rte_pktmbuf_free(m);
  // A name reused with another size is refused, with the name in the message.
  CHECK_THROWS_WITH(MetaField<uint64_t>("weft_test_vni"), Catch::Contains("weft_test_vni"));
}
