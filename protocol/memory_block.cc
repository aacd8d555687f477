#include "protocol/memory_block.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <new>
#include <utility>
#include <vector>

#include "absl/base/config.h"

namespace protocol {
namespace {

size_t RoundUp(size_t n, size_t multiple) { return (n + multiple - 1) / multiple * multiple; }

// Under AddressSanitizer every block comes from malloc, so that its redzones guard them all.
#ifdef ABSL_HAVE_ADDRESS_SANITIZER
constexpr bool kMapLargeBlocks = false;
#else
constexpr bool kMapLargeBlocks = true;
#endif

// `size` bytes of address space aligned to a huge page, or null. Over-maps by one huge page and
// unmaps the slack on either side, which leaves exactly the aligned range mapped.
char* MapAligned(size_t size) {
  const size_t span = size + MemoryBlock::kHugePageBytes;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  char* start = static_cast<char*>(raw);
  char* aligned = reinterpret_cast<char*>(
      RoundUp(reinterpret_cast<uintptr_t>(start), MemoryBlock::kHugePageBytes));
  if (aligned > start) munmap(start, aligned - start);
  char* end = start + span;
  if (end > aligned + size) munmap(aligned + size, end - (aligned + size));
  return aligned;
}

// Advice is best effort: without transparent huge pages a block still works, with small pages.
// A gradually filled block keeps small pages for its first 2 MiB (see the header); saying so
// explicitly also holds when the system enables huge pages always.
void Advise(char* data, size_t size, MemoryBlock::Fill fill) {
  size_t huge_from = 0;
  if (fill == MemoryBlock::Fill::kGradually) {
    huge_from = MemoryBlock::kHugePageBytes;
    madvise(data, huge_from, MADV_NOHUGEPAGE);
  }
  if (size > huge_from) madvise(data + huge_from, size - huge_from, MADV_HUGEPAGE);
}

thread_local bool cache_destroyed = false;  // see ThreadCache()

// Freed mapped blocks of one thread, for reuse (see the header). Few entries: a linear scan.
class BlockCache {
 public:
  struct Entry {
    char* data;
    size_t size;
    MemoryBlock::Fill fill;
  };

  ~BlockCache() {
    Release();
    cache_destroyed = true;
  }

  // The smallest cached block of at least `size` bytes, removed from the cache, if any.
  bool Take(size_t size, Entry* taken) {
    size_t best = entries_.size();
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].size >= size && (best == entries_.size() || entries_[i].size < entries_[best].size)) {
        best = i;
      }
    }
    if (best == entries_.size()) return false;
    *taken = entries_[best];
    entries_[best] = entries_.back();
    entries_.pop_back();
    bytes_ -= taken->size;
    return true;
  }

  // Keeps `entry` if it fits, else unmaps it.
  void Put(const Entry& entry) {
    if (bytes_ + entry.size > limit_) {
      munmap(entry.data, entry.size);
      return;
    }
    entries_.push_back(entry);
    bytes_ += entry.size;
  }

  void Release() {
    for (const Entry& entry : entries_) munmap(entry.data, entry.size);
    entries_.clear();
    bytes_ = 0;
  }

  size_t bytes() const { return bytes_; }
  void set_limit(size_t limit) {
    limit_ = std::min(limit, MemoryBlock::kCacheBytes);
    while (bytes_ > limit_) {  // drop what no longer fits
      munmap(entries_.back().data, entries_.back().size);
      bytes_ -= entries_.back().size;
      entries_.pop_back();
    }
  }

 private:
  std::vector<Entry> entries_;
  size_t bytes_ = 0;
  size_t limit_ = MemoryBlock::kCacheBytes;
};

// The calling thread's cache, or null once it was destroyed at thread exit (cache_destroyed is
// trivially destructible, so still readable then): blocks freed after that, by other
// thread-local or static objects, are unmapped at once.
BlockCache* ThreadCache() {
  if (cache_destroyed) return nullptr;
  thread_local BlockCache cache;
  return &cache;
}

}  // namespace

MemoryBlock::MemoryBlock(MemoryBlock&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, false)),
      fill_(other.fill_) {}

MemoryBlock& MemoryBlock::operator=(MemoryBlock&& other) noexcept {
  if (this != &other) {
    Free();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, false);
    fill_ = other.fill_;
  }
  return *this;
}

MemoryBlock MemoryBlock::Allocate(size_t size, Fill fill) {
  MemoryBlock block = TryAllocate(size, fill);
  if (size > 0 && block.data_ == nullptr) throw std::bad_alloc();
  return block;
}

MemoryBlock MemoryBlock::TryAllocate(size_t size, Fill fill) {
  MemoryBlock block;
  if (size == 0) return block;
  if (kMapLargeBlocks && size >= kLargeBytes) {
    const size_t mapped_size = RoundUp(size, kHugePageBytes);
    BlockCache::Entry cached;
    BlockCache* cache = ThreadCache();
    if (cache != nullptr && cache->Take(mapped_size, &cached)) {
      if (cached.fill != fill) Advise(cached.data, cached.size, fill);
      block.data_ = cached.data;
      block.size_ = cached.size;
    } else if (char* data = MapAligned(mapped_size)) {
      Advise(data, mapped_size, fill);
      block.data_ = data;
      block.size_ = mapped_size;
    }
    if (block.data_ != nullptr) {
      block.mapped_ = true;
      block.fill_ = fill;
      return block;
    }
    // Out of address space or mappings: the heap may still have it.
  }
  block.data_ = new (std::nothrow) char[size];
  block.size_ = block.data_ != nullptr ? size : 0;
  return block;
}

void MemoryBlock::Free() {
  if (data_ == nullptr) return;
  if (mapped_) {
    if (BlockCache* cache = ThreadCache()) {
      cache->Put({data_, size_, fill_});
    } else {
      munmap(data_, size_);
    }
  } else {
    delete[] data_;
  }
  data_ = nullptr;
  size_ = 0;
  mapped_ = false;
}

void MemoryBlock::ReleaseCachedBlocks() {
  if (BlockCache* cache = ThreadCache()) cache->Release();
}

void MemoryBlock::SetThreadCacheLimit(size_t bytes) {
  if (BlockCache* cache = ThreadCache()) cache->set_limit(bytes);
}

size_t MemoryBlock::CachedBytes() {
  const BlockCache* cache = ThreadCache();
  return cache == nullptr ? 0 : cache->bytes();
}

}  // namespace protocol
