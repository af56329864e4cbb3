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
#include <string>
#include <thread>
#include <vector>

struct ring_buffer;

namespace hive {

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
    std::vector<uint8_t> bytes;
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
