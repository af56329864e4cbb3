// A dedicated thread polls one BPF ring buffer and hands what it read to
// JavaScript in batches: one callback per poll round, not one per event.
// When JavaScript falls behind, the thread blocks on a bounded queue, the ring
// fills, and the kernel counts drops instead of this process growing without
// bound. Stop() aborts the queue (waking a blocked thread) and joins.
#pragma once
#include <napi.h>

#include <atomic>
#include <thread>
#include <vector>

struct ring_buffer;

namespace hive {

class RingbufPoller {
 public:
  // Starts polling map_fd; cb(Buffer batch, count) runs on the JS thread.
  // Each record in batch is [u32 length][bytes, padded to 8].
  RingbufPoller(Napi::Env env, int map_fd, Napi::Function cb, int poll_timeout_ms);
  ~RingbufPoller();
  void Stop();

 private:
  struct Batch {
    std::vector<uint8_t> bytes;
    uint32_t count = 0;
  };
  static void CallJs(Napi::Env env, Napi::Function cb, std::nullptr_t*, Batch* batch);
  static int OnSample(void* ctx, void* data, size_t size);
  void Run();

  using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, Batch, &RingbufPoller::CallJs>;
  Tsfn tsfn_;
  struct ring_buffer* rb_ = nullptr;
  Batch* pending_ = nullptr;
  int timeout_ms_;
  std::atomic<bool> stop_{false};
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace hive
