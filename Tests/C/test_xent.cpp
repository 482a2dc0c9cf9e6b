/*
 * test_xent.cpp -- C++17 test of the Xent C ABI: the shared C/C++ checks of xt_tests.h (its files compiled as C++),
 * plus what only C++ can easily check: compile-time facts about the header, and threads (the thread-local error message
 * and concurrent calls). Build: c++ -std=c++17 -Wall -Wextra -Werror -pedantic -pthread test_xent.cpp $(pkg-config
 * --cflags --libs xent) Prints one line per failed check and ends with "N passed, N failed"; exits 1 on any failure.
 */
#include "xt_tests.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

// ---- Compile-time facts of the v1 contract --------------------------------------------------------------------
static_assert(std::is_same<xent_status, std::int32_t>::value, "xent_status is int32_t");
static_assert(std::is_standard_layout<xent_options>::value && std::is_trivial<xent_options>::value,
              "xent_options is a plain C struct");
static_assert(offsetof(xent_options, struct_size) == 0, "struct_size comes first");
static_assert(XENT_OPTIONS_V1_SIZE == sizeof(std::size_t) + 24, "v1 xent_options size");
static_assert(sizeof(xent_options) >= XENT_OPTIONS_V1_SIZE + 8 + 2 * sizeof(void *), "1.1.0 xent_options size");
static_assert(offsetof(xent_options, z_loss_out) == XENT_OPTIONS_V1_SIZE + 8 + sizeof(void *), "1.1.0 fields in place");
static_assert(XENT_VERSION_MAJOR == 1 && XENT_VERSION_NUMBER >= 10102, "version 1.x, at least 1.1.2");
static_assert(XENT_OK == 0 && XENT_ERR_UNSUPPORTED == 6, "status values");
static_assert(
    std::is_same<decltype(&xent_cross_entropy_ex_f64),
                 xent_status (*)(const double *, std::size_t, std::size_t, std::size_t, const std::int64_t *,
                                 const xent_options *, double *, double *, std::size_t, double *, double *)>::value,
    "xent_cross_entropy_ex_f64 signature");
static_assert(std::is_same<decltype(xent_version_number()), std::uint32_t>::value, "xent_version_number type");
static_assert(std::is_same<decltype(xent_status_string(0)), const char *>::value, "xent_status_string type");

namespace
{

// One thread fails with a label error at row 3; another fails at row 7 and then succeeds. Each thread sees its own
// message, and a later call on another thread does not change it.
void test_thread_local_message()
{
    xt_set_case("thread-local xent_last_error_message");
    std::vector<float> x(8 * 10, 0.5f), loss(8);
    std::vector<std::int64_t> labels(8, 1);
    labels[3] = 10;
    xent_options opts;
    xent_options_init(&opts);
    opts.reduction = XENT_REDUCTION_NONE;
    xent_status st = xent_cross_entropy_f32(x.data(), 8, 10, 10, labels.data(), &opts, loss.data(), nullptr, nullptr);
    xt_check_status(st, XENT_ERR_LABEL_OUT_OF_RANGE, "main thread, label 10 at row 3");
    std::string mine = xent_last_error_message();
    xt_check(xt_contains(mine.c_str(), "10") && xt_contains(mine.c_str(), "3"), "message \"%s\"", mine.c_str());

    std::string other_fail, other_ok;
    xent_status other_st = XENT_OK;
    std::thread t([&] {
        std::vector<std::int64_t> l2(8, 2);
        l2[7] = -5;
        std::vector<float> out(8);
        other_st = xent_cross_entropy_f32(x.data(), 8, 10, 10, l2.data(), &opts, out.data(), nullptr, nullptr);
        other_fail = xent_last_error_message();
        l2[7] = 0;
        xent_cross_entropy_f32(x.data(), 8, 10, 10, l2.data(), &opts, out.data(), nullptr, nullptr);
        other_ok = xent_last_error_message();
    });
    t.join();
    xt_check_status(other_st, XENT_ERR_LABEL_OUT_OF_RANGE, "other thread, label -5 at row 7");
    xt_check(xt_contains(other_fail.c_str(), "-5") && xt_contains(other_fail.c_str(), "7"),
             "other thread's message \"%s\" does not name label -5 and row 7", other_fail.c_str());
    xt_check(other_ok.empty(), "other thread's message after success: \"%s\"", other_ok.c_str());
    xt_check(mine == xent_last_error_message(), "main thread's message changed to \"%s\" (was \"%s\")",
             xent_last_error_message(), mine.c_str());

    // a thread that never called anything has an empty message
    std::string fresh = "x";
    std::thread t2([&] { fresh = xent_last_error_message(); });
    t2.join();
    xt_check(fresh.empty(), "fresh thread's message \"%s\"", fresh.c_str());
}

// Several threads run the same calls at once (each with num_threads 0 and 2); results equal a serial run.
void test_concurrent_calls()
{
    xt_set_case("concurrent calls from 4 threads");
    const std::size_t rows = 64, cols = 1000;
    std::vector<double> x(rows * cols);
    std::vector<std::int64_t> labels(rows);
    for (auto &v : x) v = xt_uniform(-5, 5);
    for (std::size_t i = 0; i < rows; i++) labels[i] = static_cast<std::int64_t>(xt_rand_index(cols));
    xent_options opts;
    xent_options_init(&opts);
    opts.reduction = XENT_REDUCTION_NONE;
    opts.label_smoothing = 0.1f;
    std::vector<double> ref_loss(rows), ref_grad(rows * cols), ref_bias(cols);
    xent_status st = xent_cross_entropy_ex_f64(x.data(), rows, cols, cols, labels.data(), &opts, ref_loss.data(),
                                               ref_grad.data(), cols, nullptr, ref_bias.data());
    if (!xt_check_status(st, XENT_OK, "serial call")) return;
    std::atomic<int> mismatches{0}, errors{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < 4; t++) {
        pool.emplace_back([&, t] {
            xent_options o = opts;
            o.num_threads = (t % 2) ? 2 : 0;
            std::vector<double> loss(rows), grad(rows * cols), bias(cols);
            for (int rep = 0; rep < 20; rep++) {
                xent_status s = xent_cross_entropy_ex_f64(x.data(), rows, cols, cols, labels.data(), &o, loss.data(),
                                                          grad.data(), cols, nullptr, bias.data());
                if (s != XENT_OK || xent_last_error_message()[0] != '\0') errors++;
                for (std::size_t i = 0; i < rows; i++)
                    if (!xt_close(loss[i], ref_loss[i], 1e-13)) mismatches++;
                for (std::size_t i = 0; i < rows * cols; i++)
                    if (!xt_close(grad[i], ref_grad[i], 1e-13)) mismatches++;
                for (std::size_t j = 0; j < cols; j++)
                    if (!xt_close(bias[j], ref_bias[j], 1e-13)) mismatches++;
            }
        });
    }
    for (auto &th : pool) th.join();
    xt_check(errors.load() == 0, "%d calls failed", errors.load());
    xt_check(mismatches.load() == 0, "%d values differ from the serial run", mismatches.load());
}

// The header works with C++ containers and nullptr; in-place through std::vector.
void test_cpp_usage()
{
    xt_set_case("C++ usage");
    std::vector<float> x = {1.0f, 2.0f, 3.0f, -INFINITY};
    std::vector<float> out(4);
    xt_check_status(xent_softmax_f32(x.data(), 1, 4, 4, x.data(), 4), XENT_OK, "in-place softmax on a vector");
    const long double d = expl(-2.0L) + expl(-1.0L) + 1.0L;
    xt_check(xt_close(x[0], expl(-2.0L) / d, 1e-6) && xt_close(x[2], 1.0L / d, 1e-6) && x[3] == 0.0f,
             "softmax values %g %g %g %g", (double)x[0], (double)x[1], (double)x[2], (double)x[3]);
    xent_options o{};
    o.struct_size = sizeof o; // zero-initialized: SUM? no: reduction 0 = NONE, ignore_index 0, grad_scale 0
    std::vector<std::int64_t> labels = {0};
    std::vector<float> logits = {0.0f, 0.0f};
    float loss = -1.0f;
    xt_check_status(xent_cross_entropy_f32(logits.data(), 1, 2, 2, labels.data(), &o, &loss, nullptr, nullptr), XENT_OK,
                    "value-initialized options (ignore_index 0)");
    xt_check(loss == 0.0f, "row with label 0 == ignore_index 0 has loss %g", (double)loss);
}

void cpp_checks()
{
    test_thread_local_message();
    test_concurrent_calls();
    test_cpp_usage();
}

} // namespace

int main()
{
    return xt_run_all("c++", cpp_checks);
}
