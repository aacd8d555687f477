// ByteBlocks: copies of many small strings, one after another in blocks of kBlockBytes, for a
// queue that takes hundreds of them and frees them all at once (kv's commit queue).
//
// A copy costs no allocation of its own (one block holds hundreds of kv's 80-byte writes), and
// unlike one growing string the room it takes stays close to what it holds: a block ends at most
// a quarter of a block short of full, and a copy larger than a quarter block gets a block of its
// own, of its size. A copy never moves until Clear().
//
//   ByteBlocks bytes;
//   const char* a = bytes.Copy("key", "value");  // "keyvalue", at a until Clear()
//   bytes.Clear();                               // keeps one block for the next copies
//
// Not thread-safe.
#ifndef HANDLERS_KV_BYTE_BLOCKS_H_
#define HANDLERS_KV_BYTE_BLOCKS_H_

#include <cstddef>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/string_view.h"

namespace handlers {

class ByteBlocks {
 public:
  static constexpr size_t kBlockBytes = 32 << 10;

  // The most a copy of `n` bytes takes, its share of a block's unused end included: a block is
  // left when the next copy (at most a quarter block) does not fit, so what it holds is more
  // than three times what it leaves unused. For a budget charged ahead of the copy.
  static constexpr size_t MostBytesFor(size_t n) {
    return n <= kBlockBytes / 4 ? n + n / 3 + 1 : n;
  }

  // Copies `a` then `b` next to each other; returns where.
  const char* Copy(absl::string_view a, absl::string_view b) {
    const size_t n = a.size() + b.size();
    char* at;
    if (n > kBlockBytes / 4) {  // its own block, kept apart from the one being filled
      own_.push_back(std::unique_ptr<char[]>(new char[n]));
      own_bytes_ += n;
      at = own_.back().get();
    } else {
      if (blocks_.empty() || kBlockBytes - used_ < n) {
        blocks_.push_back(std::unique_ptr<char[]>(new char[kBlockBytes]));
        used_ = 0;
      }
      at = blocks_.back().get() + used_;
      used_ += n;
    }
    if (!a.empty()) std::memcpy(at, a.data(), a.size());
    if (!b.empty()) std::memcpy(at + a.size(), b.data(), b.size());
    return at;
  }

  // Frees every copy. The first block is kept (at most kBlockBytes), so that a queue refilled
  // as fast as it is emptied allocates nothing.
  void Clear() {
    own_.clear();
    own_bytes_ = 0;
    if (blocks_.size() > 1) blocks_.resize(1);
    used_ = 0;
  }

  // Bytes allocated for copies now (tests).
  size_t allocated_bytes() const { return blocks_.size() * kBlockBytes + own_bytes_; }

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;  // the last one is being filled
  size_t used_ = 0;                              // of the last block
  std::vector<std::unique_ptr<char[]>> own_;     // the large copies
  size_t own_bytes_ = 0;
};

}  // namespace handlers

#endif  // HANDLERS_KV_BYTE_BLOCKS_H_
