// The "basic" element family: ports, classification and plumbing. Built
// exactly as a third-party plugin is: public headers, WEFT_PLUGIN manifest,
// one export per class (the exports are the plugin's classes).
#include "datapath/classifier.hpp"
#include "datapath/counter.hpp"
#include "datapath/discard.hpp"
#include "datapath/ether_rewrite.hpp"
#include "datapath/forward.hpp"
#include "datapath/merge.hpp"
#include "datapath/pass.hpp"
#include "datapath/port_rx.hpp"
#include "datapath/port_tx.hpp"
#include "datapath/queue.hpp"
#include "datapath/tee.hpp"
#include "weft/plugin.hpp"

WEFT_PLUGIN("basic", WEFT_VERSION_STRING, "Ports, classifier and plumbing elements");

WEFT_EXPORT_CLASS(PortRx, weft::basic::PortRx::klass())
WEFT_EXPORT_CLASS(PortTx, weft::basic::PortTx::klass())
WEFT_EXPORT_CLASS(Classifier, weft::basic::Classifier::klass())
WEFT_EXPORT_CLASS(Merge, weft::basic::Merge::klass())
WEFT_EXPORT_CLASS(Forward, weft::basic::Forward::klass())
WEFT_EXPORT_CLASS(Counter, weft::basic::Counter::klass())
WEFT_EXPORT_CLASS(Discard, weft::basic::Discard::klass())
WEFT_EXPORT_CLASS(Tee, weft::basic::Tee::klass())
WEFT_EXPORT_CLASS(Pass, weft::basic::Pass::klass())
WEFT_EXPORT_CLASS(Queue, weft::basic::Queue::klass())
WEFT_EXPORT_CLASS(EtherRewrite, weft::basic::EtherRewrite::klass())
