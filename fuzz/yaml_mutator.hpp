// A structure-aware mutator for YAML graph files (libFuzzer's
// LLVMFuzzerCustomMutator). It parses the input with yaml-cpp and changes
// the document, not its bytes: a scalar becomes an interesting value (empty,
// huge, negative, another type, a name used elsewhere in the file, a long
// string), a node changes kind (scalar <-> list <-> map), a key or an item is
// removed or duplicated, a parameter name known to the element classes is
// added, a subtree is copied over another. Inputs that do not parse, and one
// mutation in eight, get libFuzzer's own byte mutations instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace weft::fuzz {

// Words worth trying as keys and values: the parameter names of every
// class, class names, port and element names. Added to the built-in ones.
void add_yaml_words(const std::vector<std::string>& words);

size_t mutate_yaml(uint8_t* data, size_t size, size_t max_size, unsigned seed);

}  // namespace weft::fuzz
