#include "protocol/memory_block.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/config.h"
#include "gtest/gtest.h"

namespace protocol {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

#ifdef ABSL_HAVE_ADDRESS_SANITIZER
constexpr bool kMapsLargeBlocks = false;  // see memory_block.cc
#else
constexpr bool kMapsLargeBlocks = true;
#endif

// Why a test skips (GTEST_SKIP, in the test log).
constexpr char kNotMapped[] =
    "AddressSanitizer build: every block comes from malloc (memory_block.cc), none is mapped";
constexpr char kNoHugePages[] =
    "no transparent huge pages here (/sys/kernel/mm/transparent_hugepage/enabled is [never] or "
    "absent)";

// Whether the kernel may back the mapping holding `address` with huge pages (smaps'
// THPeligible), or nullopt if the kernel does not say.
std::optional<bool> HugePageEligible(const void* address) {
  const auto target = reinterpret_cast<uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in_mapping = false;
  while (std::getline(smaps, line)) {
    uintptr_t start, end;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &start, &end) == 2 && line.find(':') > line.find(' ')) {
      in_mapping = start <= target && target < end;
    } else if (in_mapping && line.rfind("THPeligible:", 0) == 0) {
      return line.find('1') != std::string::npos;
    }
  }
  return std::nullopt;
}

bool HugePagesAvailable() {
  std::ifstream enabled("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  std::getline(enabled, modes);
  return !modes.empty() && modes.find("[never]") == std::string::npos;
}

bool IsMapped(const void* address) {
  unsigned char resident;
  const auto page = reinterpret_cast<uintptr_t>(address) & ~uintptr_t(sysconf(_SC_PAGESIZE) - 1);
  return mincore(reinterpret_cast<void*>(page), 1, &resident) == 0;
}

size_t ResidentPages(const char* start, size_t bytes) {
  const size_t page = sysconf(_SC_PAGESIZE);
  std::vector<unsigned char> resident(bytes / page);
  if (mincore(const_cast<char*>(start), bytes, resident.data()) != 0) return SIZE_MAX;
  size_t count = 0;
  for (unsigned char r : resident) count += r & 1;
  return count;
}

TEST(MemoryBlockTest, SmallBlocksComeFromMallocAtTheirSize) {
  MemoryBlock block = MemoryBlock::Allocate(100, MemoryBlock::Fill::kAtOnce);
  ASSERT_NE(block.data(), nullptr);
  EXPECT_EQ(block.size(), 100u);
  EXPECT_FALSE(block.mapped());
  std::memset(block.data(), 'x', block.size());
}

TEST(MemoryBlockTest, EmptyBlockHoldsNothing) {
  MemoryBlock block = MemoryBlock::Allocate(0, MemoryBlock::Fill::kAtOnce);
  EXPECT_EQ(block.data(), nullptr);
  EXPECT_EQ(block.size(), 0u);
}

TEST(MemoryBlockTest, LargeBlocksAreWholeAlignedHugePages) {
  if (!kMapsLargeBlocks) GTEST_SKIP() << kNotMapped;
  MemoryBlock block = MemoryBlock::Allocate(MemoryBlock::kLargeBytes + 1, MemoryBlock::Fill::kAtOnce);
  ASSERT_TRUE(block.mapped());
  EXPECT_EQ(block.size(), MemoryBlock::kLargeBytes + MemoryBlock::kHugePageBytes);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(block.data()) % MemoryBlock::kHugePageBytes, 0u);
  std::memset(block.data(), 'x', block.size());  // every byte is usable
  if (!HugePagesAvailable()) {
    GTEST_SKIP() << kNoHugePages << ": size and alignment checked, huge-page eligibility not";
  }
  EXPECT_EQ(HugePageEligible(block.data()), true);
}

TEST(MemoryBlockTest, GraduallyFilledBlockKeepsSmallPagesForItsFirstHugePage) {
  if (!kMapsLargeBlocks) GTEST_SKIP() << kNotMapped;
  MemoryBlock::ReleaseCachedBlocks();  // a fresh block, not a warm one from the cache
  MemoryBlock block = MemoryBlock::Allocate(16 * kMiB, MemoryBlock::Fill::kGradually);
  ASSERT_TRUE(block.mapped());
  ASSERT_EQ(block.size(), 16 * kMiB);
  // A client that declared 16 MiB and sent a few bytes makes one page resident, not 2 MiB.
  std::memcpy(block.data(), "a few bytes", 11);
  EXPECT_EQ(ResidentPages(block.data(), 2 * kMiB), 1u);
  EXPECT_EQ(HugePageEligible(block.data()), false);
  if (!HugePagesAvailable()) {
    GTEST_SKIP() << kNoHugePages << ": the first huge page's small pages checked, the huge-page "
                                    "eligibility of the rest not";
  }
  EXPECT_EQ(HugePageEligible(block.data() + 2 * kMiB), true);
}

TEST(MemoryBlockTest, FreedLargeBlocksAreReusedWarmThenReleased) {
  if (!kMapsLargeBlocks) GTEST_SKIP() << kNotMapped;
  MemoryBlock::ReleaseCachedBlocks();
  MemoryBlock block = MemoryBlock::Allocate(4 * kMiB, MemoryBlock::Fill::kGradually);
  char* start = block.data();
  std::memset(start, 'x', kMiB);
  block = MemoryBlock();
  EXPECT_EQ(MemoryBlock::CachedBytes(), 4 * kMiB);
  ASSERT_TRUE(IsMapped(start));

  // A smaller request takes the cached block, with the pages it already has.
  MemoryBlock again = MemoryBlock::Allocate(3 * kMiB, MemoryBlock::Fill::kGradually);
  EXPECT_EQ(again.data(), start);
  EXPECT_EQ(again.size(), 4 * kMiB);
  EXPECT_EQ(MemoryBlock::CachedBytes(), 0u);
  EXPECT_EQ(ResidentPages(start, kMiB), kMiB / sysconf(_SC_PAGESIZE));
  // A larger one cannot.
  MemoryBlock larger = MemoryBlock::Allocate(5 * kMiB, MemoryBlock::Fill::kAtOnce);
  EXPECT_NE(larger.data(), start);

  again = MemoryBlock();
  larger = MemoryBlock();
  EXPECT_EQ(MemoryBlock::CachedBytes(), 10 * kMiB);
  MemoryBlock::ReleaseCachedBlocks();
  EXPECT_EQ(MemoryBlock::CachedBytes(), 0u);
  EXPECT_FALSE(IsMapped(start));
  EXPECT_FALSE(IsMapped(start + 4 * kMiB - 1));
}

TEST(MemoryBlockTest, CacheKeepsAtMostItsLimit) {
  if (!kMapsLargeBlocks) GTEST_SKIP() << kNotMapped;
  MemoryBlock::ReleaseCachedBlocks();
  std::vector<MemoryBlock> blocks;
  std::vector<char*> starts;
  for (size_t i = 0; i < MemoryBlock::kCacheBytes / (16 * kMiB) + 2; ++i) {
    blocks.push_back(MemoryBlock::Allocate(16 * kMiB, MemoryBlock::Fill::kAtOnce));
    starts.push_back(blocks.back().data());
  }
  blocks.clear();
  EXPECT_EQ(MemoryBlock::CachedBytes(), MemoryBlock::kCacheBytes);
  size_t still_mapped = 0;
  for (char* start : starts) still_mapped += IsMapped(start);
  EXPECT_EQ(still_mapped, MemoryBlock::kCacheBytes / (16 * kMiB));  // the rest were unmapped
  MemoryBlock::ReleaseCachedBlocks();
}

TEST(MemoryBlockTest, ReusedBlockTakesTheNewFillsAdvice) {
  if (!kMapsLargeBlocks) GTEST_SKIP() << kNotMapped;
  if (!HugePagesAvailable()) GTEST_SKIP() << kNoHugePages;
  MemoryBlock::ReleaseCachedBlocks();
  MemoryBlock block = MemoryBlock::Allocate(4 * kMiB, MemoryBlock::Fill::kAtOnce);
  char* start = block.data();
  EXPECT_EQ(HugePageEligible(start), true);
  block = MemoryBlock();
  block = MemoryBlock::Allocate(4 * kMiB, MemoryBlock::Fill::kGradually);
  ASSERT_EQ(block.data(), start);
  EXPECT_EQ(HugePageEligible(start), false);
  EXPECT_EQ(HugePageEligible(start + 2 * kMiB), true);
  block = MemoryBlock();
  MemoryBlock::ReleaseCachedBlocks();
}

TEST(MemoryBlockTest, MovingTransfersOwnership) {
  MemoryBlock a = MemoryBlock::Allocate(3 * kMiB, MemoryBlock::Fill::kAtOnce);
  char* data = a.data();
  const size_t size = a.size();
  MemoryBlock b = std::move(a);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(b.data(), data);
  EXPECT_EQ(b.size(), size);
  MemoryBlock c = MemoryBlock::Allocate(10, MemoryBlock::Fill::kAtOnce);
  c = std::move(b);  // frees c's own block
  EXPECT_EQ(c.data(), data);
  data[size - 1] = 'z';
}

}  // namespace
}  // namespace protocol
