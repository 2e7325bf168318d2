// The pinned upload ring of the CUDA backend (engine/cuda/staging_ring.hpp), with
// events the test completes itself: a region is handed out again only after every copy
// from it has passed, the host waits only for copies that have not, and never for one
// that does not share the region.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

#include "engine/cuda/staging_ring.hpp"

using fc::cuda::StagingRing;

namespace {

// A stream that runs its copies in order: events complete oldest first, when the test
// (or a wait) says so.
struct FakeStream {
  int next = 0;
  int completed = 0;  // events [0, completed) have passed
  std::vector<int> waited_for;
  std::set<int> live;  // created and not destroyed

  StagingRing<int>::Hooks hooks() {
    StagingRing<int>::Hooks h;
    h.record = [this] {
      live.insert(next);
      return next++;
    };
    h.done = [this](const int& e) { return e < completed; };
    h.wait = [this](const int& e) {
      waited_for.push_back(e);
      completed = std::max(completed, e + 1);  // waiting for e lets everything before it finish too
    };
    h.destroy = [this](int& e) { live.erase(e); };
    return h;
  }
};

}  // namespace

TEST_CASE("staging ring: a region comes round again only after its copy, waiting only for the copies in it",
          "[cuda][staging]") {
  std::vector<float> pinned(100);
  FakeStream s;
  {
    StagingRing<int> ring(pinned.data(), pinned.size(), s.hooks());
    CHECK(ring.max_upload() == 25);
    // Five uploads of 20 fill the ring; none waits, nothing has passed.
    for (int i = 0; i < 5; ++i) {
      CHECK(ring.acquire(20) == pinned.data() + 20 * i);
      ring.queued();
    }
    CHECK(s.waited_for.empty());
    CHECK(ring.in_flight() == 5);
    // The sixth starts again at the front, where copy 0 still reads: it waits for that one alone.
    CHECK(ring.acquire(20) == pinned.data());
    ring.queued();
    CHECK(s.waited_for == std::vector<int>{0});
    CHECK(ring.waits() == 1);
    // Copies 1 and 2 pass on their own: [20, 45) is free without waiting.
    s.completed = 3;
    CHECK(ring.acquire(25) == pinned.data() + 20);
    ring.queued();
    CHECK(ring.waits() == 1);
    // [45, 55) touches no copy still running (copy 3 reads [60, 80)).
    CHECK(ring.acquire(10) == pinned.data() + 45);
    ring.queued();
    CHECK(ring.waits() == 1);
    // [55, 75) overlaps copy 3: one wait.
    CHECK(ring.acquire(20) == pinned.data() + 55);
    ring.queued();
    CHECK(s.waited_for == std::vector<int>{0, 3});
  }
  CHECK(s.live.empty());  // every event destroyed
}

TEST_CASE("staging ring: random uploads never reuse a region a running copy reads", "[cuda][staging]") {
  std::vector<float> pinned(1000);
  FakeStream s;
  StagingRing<int> ring(pinned.data(), pinned.size(), s.hooks());
  std::mt19937 rng(7);
  struct Region {
    size_t begin, end;
    int event;
  };
  std::vector<Region> issued;  // by event
  size_t needless_waits = 0;
  for (int i = 0; i < 5000; ++i) {
    // The stream finishes some copies in order; sometimes it falls far behind.
    if (rng() % 3 == 0) s.completed = std::min(s.next, s.completed + static_cast<int>(rng() % 4));
    const size_t n = 1 + rng() % ring.max_upload();
    const size_t waits_before = s.waited_for.size();
    float* p = ring.acquire(n);
    const size_t begin = static_cast<size_t>(p - pinned.data()), end = begin + n;
    REQUIRE(end <= pinned.size());
    for (size_t w = waits_before; w < s.waited_for.size(); ++w) {
      const Region& r = issued[static_cast<size_t>(s.waited_for[w])];
      if (!(r.begin < end && begin < r.end)) ++needless_waits;
    }
    for (size_t e = static_cast<size_t>(s.completed); e < issued.size(); ++e) {  // the copies still running
      const Region& r = issued[e];
      INFO("upload " << i << " got [" << begin << ", " << end << ") while copy " << r.event << " reads [" << r.begin
                     << ", " << r.end << ")");
      REQUIRE(!(r.begin < end && begin < r.end));
    }
    ring.queued();
    issued.push_back({begin, end, s.next - 1});
    REQUIRE(issued.back().event == static_cast<int>(issued.size()) - 1);
  }
  CHECK(needless_waits == 0);
  CHECK(!s.waited_for.empty());  // the stream fell behind often enough that waiting happened
}
