// A dedicated thread polls one BPF ring buffer and hands what it read to
// JavaScript in batches: one callback per poll round, not one per event.
// When JavaScript falls behind, the thread blocks on a bounded queue, the ring
// fills, and the kernel counts drops instead of this process growing without
// bound. A poll failure (EINTR is none) ends the thread and reaches
// JavaScript as an error, once, so the owner can log, count and start again;
// events never just stop. Stop() aborts the queue (waking a blocked thread)
// and joins; it is idempotent.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>

struct ring_buffer;

namespace hive {

// A batch's bytes in an anonymous mapping of their own: only the pages written
// count in RSS, and munmap returns every one when JavaScript drops the Buffer.
// (A std::vector came from glibc's arenas: freed 1 MiB batches stayed in the
// poll thread's arena, since malloc's mmap threshold rises past a size once a
// block of it is freed, and RSS under load kept what the queue once held.)
class BatchBytes {
 public:
  explicit BatchBytes(size_t reserve);
  ~BatchBytes();
  BatchBytes(const BatchBytes&) = delete;
  BatchBytes& operator=(const BatchBytes&) = delete;
  // n more bytes at the end (the mapping grows if it must); where to write them.
  uint8_t* Append(size_t n);
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0, capacity_ = 0;
};

class RingbufPoller {
 public:
  // Starts polling map_fd; on_batch(Buffer batch, count) runs on the JS thread
  // for each batch, each record in it [u32 length][u32 0][bytes, padded to 8].
  // on_error(Error) runs if polling fails; the error names `op`.
  RingbufPoller(Napi::Env env, std::string op, int map_fd, Napi::Function on_batch, Napi::Function on_error,
                int poll_timeout_ms);
  ~RingbufPoller();
  void Stop();
  // False once the thread has ended (after a poll error, or Stop()).
  bool Running() const { return running_.load(); }

 private:
  // What the thread hands over: a batch of records, or the error it ended on.
  struct Delivery {
    explicit Delivery(size_t reserve = 0) : bytes(reserve) {}
    BatchBytes bytes;
    uint32_t count = 0;
    int err = 0;
    std::string op, log;
  };
  // Lives as long as the thread-safe function (its finalizer deletes it).
  struct Context {
    Napi::FunctionReference on_error;
  };
  static void CallJs(Napi::Env env, Napi::Function on_batch, Context* ctx, Delivery* d);
  static int OnSample(void* ctx, void* data, size_t size);
  /** OnSample's work: the record appended to the pending batch (may throw std::bad_alloc). */
  int Append(void* data, size_t size);
  void Run();

  using Tsfn = Napi::TypedThreadSafeFunction<Context, Delivery, &RingbufPoller::CallJs>;
  Tsfn tsfn_;
  std::string op_;
  struct ring_buffer* rb_ = nullptr;
  Delivery* pending_ = nullptr;
  int timeout_ms_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{true};
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace hive
