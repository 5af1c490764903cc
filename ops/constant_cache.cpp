#include "ops/constant_cache.hpp"

#include <cassert>

namespace octet {

std::shared_ptr<const ConstantEntry> ConstantStore::find(const ConstantKey& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto [first, last] = entries_.equal_range(key.data);
  for (auto it = first; it != last; ++it) {
    std::shared_ptr<const ConstantEntry> entry = it->second.lock();
    if (entry && entry->key == key) return entry;
  }
  return nullptr;
}

std::shared_ptr<const ConstantEntry> ConstantStore::publish(
    std::shared_ptr<const ConstantEntry> entry) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto [first, last] = entries_.equal_range(entry->key.data);
  for (auto it = first; it != last;) {
    std::shared_ptr<const ConstantEntry> live = it->second.lock();
    if (!live) {
      it = entries_.erase(it);  // its sessions are gone
      continue;
    }
    if (live->key == entry->key) return live;
    ++it;
  }
  entries_.emplace(entry->key.data, entry);
  ++made_;
  return entry;
}

ConstantStore::Stats ConstantStore::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Stats s;
  s.made = made_;
  for (const auto& [data, weak] : entries_) {
    if (std::shared_ptr<const ConstantEntry> entry = weak.lock()) {
      ++s.entries;
      s.bytes += entry->memory.get_desc().get_size();
    }
  }
  return s;
}

dnnl::memory ConstantCache::get(const ConstantKey& key, const Tensor& source,
                                const std::function<dnnl::memory()>& make) {
  assert(source.raw() == key.data);
  if (!store_->shares(key.data)) return make();
  std::shared_ptr<const ConstantEntry> entry = store_->find(key);
  if (!entry) {
    // Made outside the store's lock, so that sessions preparing at the same
    // time do not wait on each other's reorders; when two make the same
    // entry, publish() keeps the first and the second copy is freed here.
    entry =
        store_->publish(std::make_shared<const ConstantEntry>(ConstantEntry{key, source, make()}));
  }
  held_.insert(entry);
  return entry->memory;
}

}  // namespace octet
