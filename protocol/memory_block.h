// MemoryBlock: the storage behind a Buffer, sized and backed for how it will be filled.
//
// Why not plain `new char[]` for everything: on these virtual machines every fresh 4 KiB page
// costs ~17 us to fault in (~4.5 ms per MiB), so copying a 4 MB reply into new memory stalls
// every other connection of the worker for ~18 ms. A 2 MiB transparent huge page costs one
// fault (~65 us per MiB, as fast as writing warm memory). So blocks of kLargeBytes and more
// are their own mappings, rounded up to whole huge pages and aligned to them, and advised to
// use huge pages; freeing one unmaps (or caches, below) it. Smaller blocks come from malloc,
// where small buffers belong (and where freed memory stays warm until the owner trims it).
//
// Freed large blocks are kept, per thread, in a small cache (at most kCacheBytes of them) and
// handed out again: the pages a block already has resident cost no fault when reused. This is
// what keeps a stream of large frames from faulting every byte into fresh memory. The owner of a thread that frees large blocks calls ReleaseCachedBlocks() when it is
// quiet, to give that memory back; a thread's cache is also released when the thread exits.
//
// Huge pages make memory resident 2 MiB at a time. For a block filled as bytes arrive from a
// client (a frame being read into its place), the first 2 MiB therefore keep small pages: a
// client that declares a large frame and sends a few bytes pins a few pages, not 2 MiB, and a
// block's resident memory never exceeds twice what was written into it.
//
//   MemoryBlock block = MemoryBlock::Allocate(n, MemoryBlock::Fill::kAtOnce);
//   std::memcpy(block.data(), reply, n);   // block.size() >= n
//
// Not thread-safe (it needs not be: a block has one owner).
#ifndef PROTOCOL_MEMORY_BLOCK_H_
#define PROTOCOL_MEMORY_BLOCK_H_

#include <cstddef>

namespace protocol {

class MemoryBlock {
 public:
  // Blocks at least this large are mapped with huge pages: at least one whole huge page, so
  // rounding up to whole ones wastes less than half of a block.
  static constexpr size_t kLargeBytes = size_t{2} << 20;
  static constexpr size_t kHugePageBytes = size_t{2} << 20;
  // Each thread keeps at most this much address space of freed large blocks for reuse, unless
  // it sets a smaller limit (SetThreadCacheLimit).
  static constexpr size_t kCacheBytes = size_t{64} << 20;

  enum class Fill {
    kAtOnce,     // the producer writes the bytes it asked for straight away (a reply)
    kGradually,  // bytes arrive over time, at a client's pace (a frame being read)
  };

  MemoryBlock() = default;
  MemoryBlock(MemoryBlock&& other) noexcept;
  MemoryBlock& operator=(MemoryBlock&& other) noexcept;
  MemoryBlock(const MemoryBlock&) = delete;
  MemoryBlock& operator=(const MemoryBlock&) = delete;
  ~MemoryBlock() { Free(); }

  // A block of at least `size` bytes (size() says how many). Throws std::bad_alloc if the
  // memory cannot be had, as operator new does.
  static MemoryBlock Allocate(size_t size, Fill fill);
  // The same, but an empty block (data() null) if the memory cannot be had: for sizes a client
  // chooses, where failing must cost that client its request, not the process its life.
  static MemoryBlock TryAllocate(size_t size, Fill fill);

  char* data() const { return data_; }
  size_t size() const { return size_; }
  // Whether the block is its own huge-page mapping (else it came from malloc).
  bool mapped() const { return mapped_; }

  // Unmaps the calling thread's cached blocks (see the file comment).
  static void ReleaseCachedBlocks();
  // The address space of the calling thread's cached blocks (tests, diagnostics).
  static size_t CachedBytes();
  // Caps the calling thread's cache at min(bytes, kCacheBytes): cached blocks stay resident, so
  // a server with a memory budget keeps its caches a small part of it.
  static void SetThreadCacheLimit(size_t bytes);

 private:
  void Free();

  char* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  Fill fill_ = Fill::kAtOnce;  // how a mapped block was advised
};

}  // namespace protocol

#endif  // PROTOCOL_MEMORY_BLOCK_H_
