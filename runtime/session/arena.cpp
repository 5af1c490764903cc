#include "runtime/session/arena.hpp"

#include <algorithm>

#include "runtime/session/memory_plan.hpp"

namespace octet {
namespace detail {

namespace {

void compute_lifetimes(Plan& plan) {
  std::vector<Buffer>& buffers = plan.buffers;
  const int end = static_cast<int>(plan.steps.size());
  for (int s = 0; s < end; ++s) {
    for (const Arg& a : plan.steps[s].src) {
      if (a.buffer >= 0) buffers[a.buffer].last = std::max(buffers[a.buffer].last, s);
    }
    for (int b : plan.steps[s].dst) {
      if (buffers[b].first < 0) buffers[b].first = s;
    }
  }
  for (Buffer& buf : buffers) {
    if (buf.pinned) {
      buf.first = 0;
      buf.last = end;
    }
    if (buf.first < 0) buf.first = 0;
    buf.last = std::max(buf.last, buf.first);
  }
}

// Moves every buffer of storage `from` into storage `into`.
void merge_storage(Plan& plan, int into, int from) {
  if (into == from) return;
  Storage& a = plan.storages[into];
  Storage& b = plan.storages[from];
  a.bytes = std::max(a.bytes, b.bytes);
  a.first = std::min(a.first, b.first);
  a.last = std::max(a.last, b.last);
  a.pinned = a.pinned || b.pinned;
  b = Storage{};  // empty: no bytes, placed anywhere
  for (Buffer& buf : plan.buffers) {
    if (buf.storage == from) buf.storage = into;
  }
}

}  // namespace

void assign_storages(Plan& plan, const Sharing& sharing) {
  compute_lifetimes(plan);
  std::vector<Buffer>& buffers = plan.buffers;
  for (size_t b = 0; b < buffers.size(); ++b) {
    buffers[b].storage = static_cast<int>(b);
    plan.storages.push_back(
        {buffers[b].bytes, buffers[b].first, buffers[b].last, buffers[b].pinned, 0});
  }
  for (const auto& [view, source] : sharing.views) {
    merge_storage(plan, buffers[source].storage, buffers[view].storage);
  }
  for (const Accumulate& a : sharing.accumulates) {
    Step& step = plan.steps[a.step];
    const int src = step.src[a.src].buffer;
    const int dst = step.dst[a.dst];
    bool share = src >= 0 && buffers[src].bytes == buffers[dst].bytes;
    if (share) {
      const Storage& st = plan.storages[buffers[src].storage];
      // The input must have no reader after this step (its storage's last
      // use is this step) and no other use within it.
      for (size_t k = 0; k < step.src.size(); ++k) {
        if (k != a.src && step.src[k].buffer >= 0 &&
            buffers[step.src[k].buffer].storage == buffers[src].storage) {
          share = false;
        }
      }
      share = share && !st.pinned && !plan.storages[buffers[dst].storage].pinned &&
              st.last == static_cast<int>(a.step);
    }
    if (share) {
      merge_storage(plan, buffers[src].storage, buffers[dst].storage);
    } else {
      // A constant residual is the kernel's business; buffers get copied.
      if (src < 0)
        throw Error(ErrorCode::internal, "node '" + step.name + "' accumulates into a constant");
      step.pre_copies.push_back({src, dst});
    }
  }
}

void allocate_and_bind(Plan& plan, const std::vector<int>& input_buffers,
                       const std::vector<int>& output_buffers, size_t limit) {
  std::vector<Lifetime> lifetimes;
  for (const Storage& st : plan.storages) lifetimes.push_back({st.bytes, st.first, st.last});
  const MemoryPlan mp = plan_memory(lifetimes);
  size_t scratch = 0;
  for (const Step& s : plan.steps) {
    if (s.kernel) scratch = std::max(scratch, s.kernel->scratchpad_bytes());
  }
  if (limit > 0 && mp.total + scratch > limit) {
    throw Error(ErrorCode::out_of_memory, "the activation arena needs " +
                                              std::to_string(mp.total + scratch) +
                                              " bytes, past the session's memory limit (" +
                                              std::to_string(limit) + " bytes left)");
  }
  try {
    plan.arena = Tensor(DataType::u8, {static_cast<int64_t>(mp.total + scratch)});
  } catch (const Error&) {
    throw Error(
        ErrorCode::out_of_memory,
        "cannot allocate the " + std::to_string(mp.total + scratch) + "-byte activation arena");
  }
  auto* base = static_cast<uint8_t*>(plan.arena.raw());
  for (size_t i = 0; i < plan.storages.size(); ++i) plan.storages[i].offset = mp.offsets[i];
  auto at = [&](int b) -> void* { return base + plan.storages[plan.buffers[b].storage].offset; };
  plan.scratchpad = base + mp.total;
  for (Step& s : plan.steps) {
    for (const auto& [from, to] : s.pre_copies)
      s.copies.push_back({at(from), at(to), plan.buffers[to].bytes});
    if (!s.kernel) continue;  // a view: nothing to run
    std::vector<const void*> src;
    for (const Arg& a : s.src) src.push_back(a.buffer >= 0 ? at(a.buffer) : a.constant);
    std::vector<void*> dst;
    for (int b : s.dst) dst.push_back(at(b));
    s.kernel->bind(src, dst, plan.scratchpad);
  }
  for (size_t i = 0; i < input_buffers.size(); ++i) {
    Tensor& t = plan.inputs[i];
    t = Tensor::wrap(t.dtype(), t.shape(), at(input_buffers[i]));
  }
  for (size_t i = 0; i < output_buffers.size(); ++i) {
    if (output_buffers[i] < 0) continue;  // a constant, cloned already
    Tensor& t = plan.outputs[i];
    t = Tensor::wrap(t.dtype(), t.shape(), at(output_buffers[i]));
  }
}

}  // namespace detail
}  // namespace octet
