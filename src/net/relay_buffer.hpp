#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

namespace flotilla::net {

/// A byte buffer for one relay direction: bytes enter at the tail and leave at the head. Bytes
/// between are kept contiguous (compacted when the tail hits the end), so a BASP header that
/// arrived in pieces can be read in place.
class relay_buffer {
public:
  static constexpr std::size_t compact_limit = 4096;

  explicit relay_buffer(std::size_t capacity) : data_(new std::uint8_t[capacity]), cap_(capacity) {}

  /// The first byte still held.
  std::uint8_t* head_ptr() { return data_.get() + head_; }
  std::size_t size() const { return tail_ - head_; }
  std::size_t capacity() const { return cap_; }
  bool empty() const { return head_ == tail_; }

  /// Free bytes after the tail. At the end of the storage, bytes still held move to the front
  /// only when they are few (a header in pieces): moving many would copy the stream a second
  /// time, and the writer frees the whole buffer soon anyway.
  std::size_t space() {
    if (tail_ == cap_ && head_ > 0 && size() <= compact_limit)
      compact();
    return cap_ - tail_;
  }
  std::uint8_t* tail_ptr() { return data_.get() + tail_; }
  void produced(std::size_t n) { tail_ += n; }
  /// Drops n bytes at the head. Callers keep positions relative to the head, never absolute.
  void consumed(std::size_t n) {
    head_ += n;
    if (head_ == tail_)
      head_ = tail_ = 0;
  }
  /// Replaces the storage by a larger one, keeping the bytes (a connection past its handshake
  /// gets the large relay buffer).
  void grow(std::size_t capacity) {
    if (capacity <= cap_)
      return;
    std::unique_ptr<std::uint8_t[]> fresh(new std::uint8_t[capacity]);
    std::memcpy(fresh.get(), data_.get() + head_, size());
    tail_ -= head_;
    head_ = 0;
    data_ = std::move(fresh);
    cap_ = capacity;
  }
private:
  void compact() {
    std::memmove(data_.get(), data_.get() + head_, tail_ - head_);
    tail_ -= head_;
    head_ = 0;
  }

  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t cap_;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
};

} // namespace flotilla::net
