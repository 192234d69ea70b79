// Contractions (kernels/contract.h): the batched-GEMM path agrees with the reference loop to
// fp32 summation tolerance on the equations exporters emit (batched matmuls, transposed
// operands, attention's bhqd,bhkd->bhqk, dot products, diagonals), and the shapes it does not
// take still run (on the loop, exactly).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "lowbit/kernels/contract.h"

namespace lowbit::kernels {
namespace {

// "ab,bc->ac" with extents per letter: the Contraction, operand sizes and output size.
struct Case {
  Contraction c;
  std::vector<int64_t> sizes;
  int64_t out = 1;
};
Case make(const std::string& eq, const std::map<char, int64_t>& ext) {
  const auto arrow = eq.find("->"), comma = eq.find(',');
  const std::string a = eq.substr(0, comma), b = eq.substr(comma + 1, arrow - comma - 1), y = eq.substr(arrow + 2);
  std::string order = y;
  for (char l : a + b)
    if (order.find(l) == std::string::npos) order += l;
  Case k;
  k.c.n_out = y.size();
  for (char l : order) k.c.extent.push_back(ext.at(l));
  for (const std::string& term : {a, b}) {
    std::vector<int64_t> st(order.size(), 0);
    int64_t s = 1;
    for (size_t d = term.size(); d-- > 0;) {
      st[order.find(term[d])] += s;
      s *= ext.at(term[d]);
    }
    k.c.stride.push_back(st);
    k.sizes.push_back(s);
  }
  for (char l : y) k.out *= ext.at(l);
  return k;
}

TEST(Contract, GemmPathMatchesReferenceLoop) {
  const std::map<char, int64_t> ext = {{'b', 3}, {'h', 2}, {'i', 17}, {'j', 33}, {'k', 9}, {'q', 12}, {'d', 16}};
  std::mt19937 rng(5);
  for (const char* eq : {"bij,bjk->bik", "ij,kj->ik", "ji,jk->ki", "bhqd,bhkd->bhqk", "bhqk,bhkd->bhqd", "ij,ij->i",
                         "ij,j->i", "bij,bkj->bki", "ii,ij->j", "ij,jk->", "ik,jd->ijkd"}) {
    const Case k = make(eq, ext);
    std::vector<float> a(static_cast<size_t>(k.sizes[0])), b(static_cast<size_t>(k.sizes[1]));
    for (auto& v : a) v = std::uniform_real_distribution<float>(-1, 1)(rng);
    for (auto& v : b) v = std::uniform_real_distribution<float>(-1, 1)(rng);
    const float* in[2] = {a.data(), b.data()};
    std::vector<float> fast(static_cast<size_t>(k.out), 7.0f), want(fast);
    contract<float>(k.c, in, fast.data());
    ref::contract<float>(k.c, in, want.data());
    int64_t summed = 1;
    for (size_t l = k.c.n_out; l < k.c.extent.size(); ++l) summed *= k.c.extent[l];
    for (size_t i = 0; i < fast.size(); ++i)
      ASSERT_NEAR(fast[i], want[i], 1e-6 * static_cast<double>(summed) + 1e-6) << eq << " element " << i;
  }
}

TEST(Contract, IntegerAndDoubleRunTheLoopExactly) {
  const Case k = make("ij,jk->ik", {{'i', 2}, {'j', 3}, {'k', 2}});
  const int64_t a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, (int64_t{1} << 40), 1};
  const int64_t* in[2] = {a, b};
  int64_t y[4];
  contract<int64_t>(k.c, in, y);
  EXPECT_EQ(std::vector<int64_t>(y, y + 4), (std::vector<int64_t>{1 + 3 * (int64_t{1} << 40), 2 + 3, 4 + 6 * (int64_t{1} << 40), 5 + 6}));
}

}  // namespace
}  // namespace lowbit::kernels
