// Small text helpers shared by the YAML loader, the validator and elements'
// configuration: number parsing with explicit failure and "did you mean";
// and the words for an exception in flight.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft {

std::optional<int64_t> parse_int(std::string_view s);    // decimal or 0x hex
std::optional<uint64_t> parse_uint(std::string_view s);  // decimal or 0x hex
std::optional<double> parse_double(std::string_view s);
std::optional<bool> parse_bool(std::string_view s);      // true/false/yes/no/on/off

// The closest candidate by edit distance, if close enough to be a likely typo.
std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates);
// " (did you mean 'x'?)" or "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

std::vector<std::string> split(std::string_view s, char sep);

// In a catch block: the message of the exception in flight (what() of a
// std::exception, else its type: a plugin may throw anything).
std::string current_exception_text() noexcept;
std::string trim(std::string_view s);

}  // namespace weft
