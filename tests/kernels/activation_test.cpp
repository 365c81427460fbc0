#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/activation.h"
#include "kernels/activation_internal.h"
#include "support/test_support.h"

namespace petrel {
namespace {

using test::everyActivation;

TEST(Activation, NamesRoundTrip) {
  for (const ActivationParams& p : everyActivation()) {
    Activation parsed = Activation::kNone;
    ASSERT_TRUE(parseActivation(activationName(p.kind), &parsed)) << activationName(p.kind);
    EXPECT_EQ(parsed, p.kind);
  }
  Activation unused;
  EXPECT_FALSE(parseActivation("swish2", &unused));
  EXPECT_FALSE(parseActivation("", &unused));
}

TEST(Activation, ScalarReferenceValues) {
  EXPECT_FLOAT_EQ(applyActivation({Activation::kRelu}, -2.0f), 0.0f);
  EXPECT_FLOAT_EQ(applyActivation({Activation::kClip, 0.0f, 6.0f}, 7.0f), 6.0f);
  EXPECT_FLOAT_EQ(applyActivation({Activation::kHardSwish}, 1.0f), 1.0f * (1.0f / 6.0f + 0.5f));
  EXPECT_NEAR(applyActivation({Activation::kGelu}, 1.0f), 0.8413447f, 1e-6);
  EXPECT_NEAR(applyActivation({Activation::kSilu}, 2.0f), 2.0f / (1.0f + std::exp(-2.0f)), 1e-6);
}

// The in-place array version (every Isa) against the scalar formula, over a
// range that reaches the saturated tails, with lengths that leave remainders.
TEST(Activation, ArrayMatchesScalarForEveryIsa) {
  std::vector<float> input = test::randomFloats(1003, 7, -12.0f, 12.0f);
  for (float special : {0.0f, -0.0f, 1e-6f, -1e-6f, 0.3f, -0.3f, 0.625f, -0.625f, 0.6251f, 60.0f, -60.0f, 100.0f,
                        -100.0f, 3.0f, -3.0f, 6.0f, -6.0f})
    input.push_back(special);
  for (Isa isa : test::testedIsas()) {
    for (const ActivationParams& p : everyActivation()) {
      for (size_t n : {size_t{1}, size_t{7}, size_t{8}, size_t{9}, input.size()}) {
        std::vector<float> data(input.begin(), input.begin() + n);
        applyActivation(p, data.data(), static_cast<int64_t>(n), isa);
        for (size_t i = 0; i < n; ++i) {
          const double want = applyActivation(p, input[i]);
          const double tol = 2e-6 * std::max(1.0, std::fabs(want));
          ASSERT_NEAR(data[i], want, tol) << isaName(isa) << " " << activationName(p.kind) << " x=" << input[i];
        }
      }
    }
  }
}

TEST(Activation, DefaultDispatchRuns) {
  std::vector<float> data = {-1.0f, 2.0f};
  applyActivation({Activation::kRelu}, data.data(), 2);
  EXPECT_EQ(data[0], 0.0f);
  EXPECT_EQ(data[1], 2.0f);
}

}  // namespace
}  // namespace petrel
