#include "protocol/buffer.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

#include "glog/logging.h"

namespace protocol {
namespace {
// Small first allocation: a stray byte costs tens of bytes, not a page.
constexpr size_t kMinCapacity = 64;
}  // namespace

void Buffer::Append(absl::string_view bytes) {
  if (bytes.empty()) return;
  std::memcpy(AppendUninitialized(bytes.size()), bytes.data(), bytes.size());
}

char* Buffer::AppendUninitialized(size_t n) {
  if (capacity() - end_ < n) MakeRoom(n);
  char* out = storage_.data() + end_;
  end_ += n;
  return out;
}

void Buffer::Commit(size_t n) {
  DCHECK_LE(n, room_size());
  end_ += n;
}

void Buffer::Overwrite(size_t offset, absl::string_view bytes) {
  DCHECK_LE(offset + bytes.size(), size());
  std::memcpy(storage_.data() + begin_ + offset, bytes.data(), bytes.size());
}

void Buffer::Consume(size_t n) {
  DCHECK_LE(n, size());
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;  // cheap reset keeps appends at the front
}

void Buffer::Truncate(size_t n) {
  DCHECK_LE(n, size());
  end_ = begin_ + n;
  if (begin_ == end_) begin_ = end_ = 0;
}

void Buffer::Clear(size_t keep_capacity) {
  begin_ = end_ = 0;
  if (capacity() > keep_capacity) {
    storage_ = MemoryBlock();
  }
}

size_t Buffer::resident_bound() const {
  if (capacity() < MemoryBlock::kLargeBytes) return capacity();
  constexpr size_t kSmallPageBytes = 4096;
  return end_ + (end_ < MemoryBlock::kHugePageBytes ? kSmallPageBytes : MemoryBlock::kHugePageBytes);
}

void Buffer::Reserve(size_t n) {
  if (!TryReserve(n)) throw std::bad_alloc();
}

bool Buffer::TryReserve(size_t n) {
  if (n <= capacity() - begin_) return true;
  MemoryBlock grown = MemoryBlock::TryAllocate(n, MemoryBlock::Fill::kGradually);
  if (grown.data() == nullptr) return false;
  const size_t stored = size();
  if (stored > 0) std::memcpy(grown.data(), data(), stored);
  storage_ = std::move(grown);
  begin_ = 0;
  end_ = stored;
  return true;
}

void Buffer::MakeRoom(size_t n) {
  const size_t stored = size();
  // Slide stored bytes to the front when that frees enough room and the move is cheap compared
  // with the space reclaimed; otherwise grow geometrically so appends stay amortised O(1).
  if (capacity() - stored >= n && begin_ >= stored) {
    std::memmove(storage_.data(), data(), stored);
    begin_ = 0;
    end_ = stored;
  } else {
    Reallocate(std::max({kMinCapacity, stored + n, capacity() * 2}), MemoryBlock::Fill::kAtOnce);
  }
}

void Buffer::Reallocate(size_t capacity, MemoryBlock::Fill fill) {
  const size_t stored = size();
  MemoryBlock grown = MemoryBlock::Allocate(capacity, fill);
  if (stored > 0) std::memcpy(grown.data(), data(), stored);
  storage_ = std::move(grown);
  begin_ = 0;
  end_ = stored;
}

}  // namespace protocol
