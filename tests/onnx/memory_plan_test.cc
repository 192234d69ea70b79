// Arena planning (memory_plan.h): disjoint bytes for overlapping lifetimes, reuse after the last
// reader, and the take-over of an input's buffer by an output (a conv's fused residual), which is
// granted only when every other reader of that buffer has finished.
#include "memory_plan.h"

#include <gtest/gtest.h>

namespace lowbit::onnx {
namespace {

bool program_order(int a, int b) { return a < b; }

BufferRequest req(size_t bytes, int producer, std::vector<int> readers, int reuse = -1) {
  BufferRequest r;
  r.bytes = bytes;
  r.producer = producer;
  r.readers = std::move(readers);
  r.reuse = reuse;
  return r;
}

TEST(MemoryPlan, OverlappingLifetimesGetDisjointBytes) {
  // 0 -> read by 1 and 2; 1 -> read by 2: all three are live at step 2.
  const MemoryPlanResult r = plan_memory({req(256, 0, {1, 2}), req(128, 1, {2}), req(64, 2, {3})}, program_order);
  EXPECT_NE(r.offsets[0], r.offsets[1]);
  EXPECT_GE(r.arena_bytes, 256u + 128u);
  EXPECT_EQ(r.shared_with, (std::vector<int>{-1, -1, -1}));
}

TEST(MemoryPlan, BufferIsReusedAfterItsLastReader) {
  // 0 is last read at step 1; step 2's output may then sit in the same bytes.
  const MemoryPlanResult r = plan_memory({req(256, 0, {1}), req(256, 1, {2}), req(256, 2, {3})}, program_order);
  EXPECT_EQ(r.offsets[0], r.offsets[2]);
  EXPECT_EQ(r.arena_bytes, 512u);
}

TEST(MemoryPlan, OutputTakesOverAnInputWhoseLastReaderIsItsProducer) {
  // Residual 0 is read by step 1 and by step 2, which writes request 2 over it.
  const MemoryPlanResult r =
      plan_memory({req(256, 0, {1, 2}), req(256, 1, {2}), req(256, 2, {3}, /*reuse=*/0)}, program_order);
  EXPECT_EQ(r.shared_with[2], 0);
  EXPECT_EQ(r.offsets[2], r.offsets[0]);
  EXPECT_NE(r.offsets[1], r.offsets[0]);  // 1 is live while the shared buffer is
  EXPECT_EQ(r.arena_bytes, 512u);
}

TEST(MemoryPlan, TakeOverIsRefusedWhileAnotherReaderFollows) {
  // Step 3 still reads request 0 after step 2 would have overwritten it.
  const MemoryPlanResult r =
      plan_memory({req(256, 0, {1, 2, 3}), req(256, 1, {2}), req(256, 2, {3}, 0)}, program_order);
  EXPECT_EQ(r.shared_with[2], -1);
  EXPECT_NE(r.offsets[2], r.offsets[0]);
}

TEST(MemoryPlan, TakeOverIsRefusedForConcurrentReadersAndOtherSizes) {
  // Under DAG ancestry, step 1 and step 2 are unordered: 2 may not overwrite what 1 reads.
  auto dag = [](int a, int b) { return a == 0 && b > 0; };
  MemoryPlanResult r = plan_memory({req(256, 0, {1, 2}), req(64, 1, {}), req(256, 2, {}, 0)}, dag);
  EXPECT_EQ(r.shared_with[2], -1);
  // A different size is never taken over, nor a buffer the producer does not read.
  r = plan_memory({req(256, 0, {1}), req(128, 1, {2}, 0)}, program_order);
  EXPECT_EQ(r.shared_with[1], -1);
  r = plan_memory({req(256, 0, {1}), req(256, 2, {3}, 0)}, program_order);
  EXPECT_EQ(r.shared_with[1], -1);
}

TEST(MemoryPlan, ChainsOfTakeOversShareOneBufferThatLivesUntilTheLastReader) {
  // 0 -> taken by 1 -> taken by 2; request 3 is produced while 2 is still to be read.
  const MemoryPlanResult r = plan_memory(
      {req(256, 0, {1}), req(256, 1, {2}, 0), req(256, 2, {4}, 1), req(256, 3, {4})}, program_order);
  EXPECT_EQ(r.shared_with, (std::vector<int>{-1, 0, 1, -1}));
  EXPECT_EQ(r.offsets[0], r.offsets[1]);
  EXPECT_EQ(r.offsets[1], r.offsets[2]);
  EXPECT_NE(r.offsets[3], r.offsets[2]);
  EXPECT_EQ(r.arena_bytes, 512u);
}

}  // namespace
}  // namespace lowbit::onnx
