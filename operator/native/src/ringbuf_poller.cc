#include "ringbuf_poller.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "errors.h"

namespace hive {

// Batches wait here while JavaScript is busy; past this the poll thread blocks.
constexpr size_t kMaxQueuedBatches = 64;
// A batch is handed over once it holds this much, so one JS callback never has
// to decode a whole 100 MB ring at once (large batches thrash the GC).
constexpr size_t kMaxBatchBytes = 1 << 20;
// Returned from the sample callback to stop consuming when a batch is full.
constexpr int kBatchFull = -E2BIG;

RingbufPoller::RingbufPoller(Napi::Env env, int map_fd, Napi::Function cb, int poll_timeout_ms)
    : timeout_ms_(poll_timeout_ms) {
  rb_ = ring_buffer__new(map_fd, &RingbufPoller::OnSample, this, nullptr);
  if (!rb_) ThrowErrno(env, "ring_buffer__new", errno);
  tsfn_ = Tsfn::New(env, cb, "hive-ringbuf", kMaxQueuedBatches, 1);
  thread_ = std::thread([this] { Run(); });
}

RingbufPoller::~RingbufPoller() { Stop(); }

int RingbufPoller::OnSample(void* ctx, void* data, size_t size) {
  auto* self = static_cast<RingbufPoller*>(ctx);
  if (!self->pending_) {
    self->pending_ = new Batch();
    self->pending_->bytes.reserve(kMaxBatchBytes + 4096);
  }
  auto& bytes = self->pending_->bytes;
  size_t padded = (size + 7) & ~size_t(7);
  size_t off = bytes.size();
  bytes.resize(off + 8 + padded);
  uint32_t len = static_cast<uint32_t>(size);
  std::memcpy(bytes.data() + off, &len, 4);
  std::memset(bytes.data() + off + 4, 0, 4);
  std::memcpy(bytes.data() + off + 8, data, size);
  self->pending_->count++;
  // libbpf stops after this sample (and counts it consumed) on a negative return.
  return bytes.size() >= kMaxBatchBytes ? kBatchFull : 0;
}

void RingbufPoller::Run() {
  while (!stop_.load(std::memory_order_relaxed)) {
    int n = ring_buffer__poll(rb_, timeout_ms_);
    if (n < 0 && n != -EINTR && n != kBatchFull) break;
    if (pending_) {
      Batch* b = pending_;
      pending_ = nullptr;
      // Blocks while the queue is full; returns napi_closing after Stop().
      if (tsfn_.BlockingCall(b) != napi_ok) {
        delete b;
        break;
      }
    }
  }
  delete pending_;
  pending_ = nullptr;
}

void RingbufPoller::CallJs(Napi::Env env, Napi::Function cb, std::nullptr_t*, Batch* batch) {
  if (env == nullptr || cb.IsEmpty()) {  // aborted: drop what was queued
    delete batch;
    return;
  }
  uint32_t count = batch->count;
  size_t len = batch->bytes.size();
  auto buf = Napi::Buffer<uint8_t>::New(env, batch->bytes.data(), len,
                                        [](Napi::Env, uint8_t*, Batch* b) { delete b; }, batch);
  try {
    cb.Call({buf, Napi::Number::New(env, count)});
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();  // surfaces as an uncaught exception in JS
  }
}

void RingbufPoller::Stop() {
  if (stopped_) return;
  stopped_ = true;
  stop_.store(true);
  tsfn_.Abort();  // this is the poll thread's release; wakes a blocked BlockingCall
  if (thread_.joinable()) thread_.join();
  ring_buffer__free(rb_);
  rb_ = nullptr;
}

}  // namespace hive
