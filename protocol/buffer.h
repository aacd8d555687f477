// Buffer: a growable byte queue for partial input and pending output.
//
// Bytes are appended at the back and consumed from the front, like muduo's Buffer. Storage is
// allocated only when bytes are stored and grows with what is actually appended, so an idle
// connection's empty buffers cost nothing and a client cannot make it reserve memory by
// announcing a large frame.
//
//   Buffer out;
//   out.Append("hello");
//   size_t n = write(fd, out.data(), out.size());
//   out.Consume(n);
//
// Not thread-safe: a buffer belongs to one connection, touched by one thread.
#ifndef PROTOCOL_BUFFER_H_
#define PROTOCOL_BUFFER_H_

#include <cstddef>

#include "absl/strings/string_view.h"
#include "protocol/memory_block.h"

namespace protocol {

class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&&) = default;
  Buffer& operator=(Buffer&&) = default;

  const char* data() const { return storage_.data() + begin_; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  size_t capacity() const { return storage_.size(); }
  // The most memory this buffer can have resident, for a memory budget: a small block's whole
  // capacity (reused heap memory is resident already); of a large one, only what was written
  // into it and the page being filled (MemoryBlock keeps small pages for a gradually filled
  // block's first 2 MiB, and huge pages after).
  size_t resident_bound() const;
  absl::string_view view() const { return absl::string_view(data(), size()); }

  void Append(absl::string_view bytes);

  // Returns a pointer to `n` writable bytes at the back; they count as stored at once. Lets a
  // producer write in place (e.g. a transformed reply) instead of building a temporary.
  char* AppendUninitialized(size_t n);

  // Makes room for `n` stored bytes in all with one allocation (if the buffer does not have that
  // room already), so appends up to it never move the stored bytes. Meant for bytes that arrive
  // gradually: untouched room costs address space, not resident memory (see MemoryBlock).
  void Reserve(size_t n);
  // The same, but false (and the buffer unchanged) if the memory cannot be had.
  bool TryReserve(size_t n);

  // The free room after the stored bytes, for a producer (e.g. read()) to write into in place;
  // Commit(n) then counts the first n of them as stored.
  char* room() { return storage_.data() + end_; }
  size_t room_size() const { return capacity() - end_; }
  void Commit(size_t n);

  // Overwrites already-stored bytes at `offset` from the front (used to patch a frame header).
  void Overwrite(size_t offset, absl::string_view bytes);

  // Drops `n` bytes from the front. Requires n <= size().
  void Consume(size_t n);

  // Drops bytes from the back so that `n` remain. Requires n <= size().
  void Truncate(size_t n);

  // Drops everything. Keeps the allocation if it is at most `keep_capacity` bytes, else frees it,
  // so a buffer that once held a large frame does not pin that memory while idle.
  void Clear(size_t keep_capacity = 0);

 private:
  void MakeRoom(size_t n);
  // Moves the stored bytes to the front of a new block of at least `capacity` bytes.
  void Reallocate(size_t capacity, MemoryBlock::Fill fill);

  MemoryBlock storage_;
  size_t begin_ = 0;  // first stored byte
  size_t end_ = 0;    // one past the last stored byte
};

}  // namespace protocol

#endif  // PROTOCOL_BUFFER_H_
