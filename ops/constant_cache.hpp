// Reordered constants (weights in the layout a primitive reads, quantized
// weights): made once per Model and shared, read-only, by all its sessions.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "octet/octet.hpp"

namespace octet {

// Everything the bytes of a reordered constant depend on: the source tensor
// (by address: an entry keeps its source alive, so the address cannot name
// another tensor while the entry lives), the layout it is read in, the layout
// written, and for quantized weights the per-channel scales, the channel axis
// and the integer range (+-levels). There is one engine per process
// (cpu_engine()); the ISA, the thread count and the session's precision act
// on the bytes only through `src` (s8 or f32) and `want` (the layout the
// primitive chose, with oneDNN's compensation and scale-adjust flags), so two
// sessions configured differently share an entry only when those match, and
// then the bytes are the same.
struct ConstantKey {
  const void* data = nullptr;
  dnnl::memory::desc src, want;
  std::vector<float> scales;  // empty: not quantized
  int axis = 0, levels = 0;

  bool operator==(const ConstantKey& other) const {
    return data == other.data && src == other.src && want == other.want && scales == other.scales &&
           axis == other.axis && levels == other.levels;
  }
};

struct ConstantEntry {
  ConstantKey key;
  Tensor source;        // kept alive so that key.data names it
  dnnl::memory memory;  // the bytes; never written once published
};

// One per Model (ModelData::constants). It holds its entries weakly: the
// sessions that use an entry own it, and it is freed with the last of them,
// so a long-lived Model does not keep the weights of sessions long gone.
// Thread-safe: sessions of one Model prepare concurrently.
class ConstantStore {
 public:
  // `shared`: the addresses of the tensors whose reordered forms are kept
  // (the Model's initializers). Constants a session computes at prepare (a
  // folded Slice of an embedding, Gemm's alpha x B) live at addresses no
  // other session and no later prepare will ask for: they are not kept.
  explicit ConstantStore(std::unordered_set<const void*> shared = {})
      : shared_(std::move(shared)) {}
  bool shares(const void* data) const { return shared_.count(data) > 0; }

  // The live entry for `key`, or null.
  std::shared_ptr<const ConstantEntry> find(const ConstantKey& key) const;
  // Publishes `entry` and returns it, or returns the live entry of an equal
  // key that another session published meanwhile (then `entry` is dropped).
  std::shared_ptr<const ConstantEntry> publish(std::shared_ptr<const ConstantEntry> entry);

  struct Stats {
    size_t entries = 0;  // live
    size_t bytes = 0;    // of the live entries' memories
    size_t made = 0;     // entries ever published (a lost race is not counted)
  };
  Stats stats() const;

 private:
  const std::unordered_set<const void*> shared_;  // immutable: read without the lock
  mutable std::mutex mutex_;
  std::unordered_multimap<const void*, std::weak_ptr<const ConstantEntry>> entries_;
  size_t made_ = 0;
};

// One session's constants (SessionState::constants, handed to make_kernel as
// KernelContext::constants): the entries it uses, held for the session's
// life so that a re-prepare finds them again, and found in or published to
// its Model's store so that other sessions use the same bytes.
class ConstantCache {
 public:
  explicit ConstantCache(std::shared_ptr<ConstantStore> store) : store_(std::move(store)) {}

  // The memory for `key`: found, or made by `make` from `source` (which must
  // be the tensor at key.data) and published; made and not kept when the
  // store does not share key.data. `make` may throw; nothing is published
  // then.
  dnnl::memory get(const ConstantKey& key, const Tensor& source,
                   const std::function<dnnl::memory()>& make);

 private:
  std::shared_ptr<ConstantStore> store_;
  std::unordered_set<std::shared_ptr<const ConstantEntry>> held_;
};

}  // namespace octet
