#include "ringbuf_poller.h"

#include <bpf/libbpf.h>
#include <pthread.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "errors.h"
#include "libbpf_log.h"

namespace hive {

// Batches wait here while JavaScript is busy; past this the poll thread blocks.
constexpr size_t kMaxQueuedBatches = 64;
// A batch is handed over once it holds this much, so one JS callback never has
// to decode a whole 100 MB ring at once (large batches thrash the GC).
constexpr size_t kMaxBatchBytes = 1 << 20;
// Returned from the sample callback to stop consuming when a batch is full.
constexpr int kBatchFull = -E2BIG;

RingbufPoller::RingbufPoller(Napi::Env env, std::string op, int map_fd, Napi::Function on_batch,
                             Napi::Function on_error, int poll_timeout_ms)
    : op_(std::move(op)), timeout_ms_(poll_timeout_ms) {
  rb_ = ring_buffer__new(map_fd, &RingbufPoller::OnSample, this, nullptr);
  if (!rb_) ThrowErrno(env, op_ + ": ring_buffer__new", errno);
  auto* ctx = new Context{Napi::Persistent(on_error)};
  try {
    tsfn_ = Tsfn::New(env, on_batch, "hive-ringbuf", kMaxQueuedBatches, 1, ctx,
                      [](Napi::Env, void*, Context* c) { delete c; }, static_cast<void*>(nullptr));
  } catch (...) {
    delete ctx;
    ring_buffer__free(rb_);
    throw;
  }
  thread_ = std::thread([this] { Run(); });
  // Named before startRingbuf returns: to tell it in top, gdb, /proc/<pid>/task.
  pthread_setname_np(thread_.native_handle(), "hive-ringbuf");
}

RingbufPoller::~RingbufPoller() { Stop(); }

BatchBytes::BatchBytes(size_t reserve) {
  if (reserve == 0) return;
  void* p = mmap(nullptr, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();  // as the vector it replaces would
  data_ = static_cast<uint8_t*>(p);
  capacity_ = reserve;
}

BatchBytes::~BatchBytes() {
  if (data_) munmap(data_, capacity_);
}

uint8_t* BatchBytes::Append(size_t n) {
  if (size_ + n > capacity_) {
    // a record past the reserve (none of ours is that large): grow, pages stay lazy
    size_t want = ((size_ + n) * 2 + 4095) & ~size_t(4095);
    void* p = data_ ? mremap(data_, capacity_, want, MREMAP_MAYMOVE)
                    : mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<uint8_t*>(p);
    capacity_ = want;
  }
  uint8_t* at = data_ + size_;
  size_ += n;
  return at;
}

int RingbufPoller::OnSample(void* ctx, void* data, size_t size) {
  auto* self = static_cast<RingbufPoller*>(ctx);
  // Called from libbpf's C frames: no exception may cross them (it would
  // std::terminate the agent). Out of memory ends this poll with -ENOMEM,
  // which the poll loop reports and the JS side restarts.
  try {
    return self->Append(data, size);
  } catch (...) {
    return -ENOMEM;
  }
}

int RingbufPoller::Append(void* data, size_t size) {
  RingbufPoller* self = this;
  // reserved past the cut, so the record that crosses it still fits; untouched pages cost nothing
  if (!self->pending_) self->pending_ = new Delivery(kMaxBatchBytes + 65536);
  auto& bytes = self->pending_->bytes;
  size_t padded = (size + 7) & ~size_t(7);
  uint8_t* at = bytes.Append(8 + padded);
  uint32_t len = static_cast<uint32_t>(size);
  std::memcpy(at, &len, 4);
  std::memset(at + 4, 0, 4);
  std::memcpy(at + 8, data, size);
  if (padded > size) std::memset(at + 8 + size, 0, padded - size);
  self->pending_->count++;
  // libbpf stops after this sample (and counts it consumed) on a negative return.
  return bytes.size() >= kMaxBatchBytes ? kBatchFull : 0;
}

void RingbufPoller::Run() {
  while (!stop_.load(std::memory_order_relaxed)) {
    ClearLibbpfLog();
    int n = ring_buffer__poll(rb_, timeout_ms_);
    int err = n < 0 && n != -EINTR && n != kBatchFull ? -n : 0;
    if (pending_) {
      Delivery* b = pending_;
      pending_ = nullptr;
      // Blocks while the queue is full; returns napi_closing after Stop().
      if (tsfn_.BlockingCall(b) != napi_ok) {
        delete b;
        break;
      }
    }
    if (err) {
      auto* d = new Delivery();
      d->err = err;
      d->op = op_ + ": poll";
      d->log = TakeLibbpfLog();
      if (tsfn_.BlockingCall(d) != napi_ok) delete d;
      break;
    }
  }
  delete pending_;
  pending_ = nullptr;
  running_.store(false);
}

void RingbufPoller::CallJs(Napi::Env env, Napi::Function on_batch, Context* ctx, Delivery* d) {
  if (env == nullptr || on_batch.IsEmpty()) {  // aborted: drop what was queued
    delete d;
    return;
  }
  try {
    if (d->err) {
      Napi::Error e = ErrnoError(env, d->op, d->err, d->log);
      delete d;
      ctx->on_error.Call({e.Value()});
      return;
    }
    uint32_t count = d->count;
    size_t len = d->bytes.size();
    // V8 is told of the batch's memory, so that dropped batches are collected
    // (and unmapped) as they pile up, not whenever the heap alone would ask
    Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(len));
    auto buf = Napi::Buffer<uint8_t>::New(env, d->bytes.data(), len,
                                          [](Napi::Env e, uint8_t*, Delivery* b) {
                                            Napi::MemoryManagement::AdjustExternalMemory(e, -static_cast<int64_t>(b->bytes.size()));
                                            delete b;
                                          },
                                          d);
    on_batch.Call({buf, Napi::Number::New(env, count)});
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();  // the callback threw: an uncaught exception, as from any callback
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
