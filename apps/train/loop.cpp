#include "apps/train/loop.hpp"

#include <cstdio>
#include <string>

#include "apps/cli/interrupt.hpp"
#include "apps/cli/number_text.hpp"
#include "apps/cli/progress.hpp"
#include "apps/train/loss_reader.hpp"
#include "apps/train/losses.hpp"
#include "apps/train/run_metrics.hpp"
#include "engine/allocator.hpp"
#include "nn/data_parallel.hpp"

namespace fc::app {

namespace {

// One optimizer step on a batch's loss: the gradients (averaged over the ranks, the
// all-reduce overlapping backward), clipping, AdamW, the EMA of the weights.
void optimizer_step(nn::Module& model, nn::AdamW& opt, nn::EMA* ema, const Tensor& loss, const TrainLoopOptions& o,
                    int64_t iteration) {
  opt.zero_grad();
  if (dist::size() == 1)
    loss.backward();  // one process: nothing to average (AdamW flattened the parameters)
  else
    nn::backward_and_average(model, loss, o.bucket_bytes);
  if (o.clip > 0) nn::clip_grad_norm(model, static_cast<float>(o.clip));
  opt.step();
  nn::testing_desync(model, iteration);  // (tests: FLOWCPP_TEST_DESYNC_AT puts the last rank out of step)
  if (ema) ema->update();
}

// Ctrl-C, heard by any rank: every rank stops at this iteration; rank 0 saves and
// writes the losses.
void stop_for_interrupt(nn::Module& model, TrainState& state, LossReader& losses, const TrainLoopOptions& o,
                        const std::function<void()>& save) {
  losses.flush(state.iteration);
  nn::check_replicas_agree(model, state.iteration);
  if (!dist::is_root()) return;
  save();
  write_losses_csv(o.losses_csv, state.losses);
  std::fprintf(stderr, "\n%s: interrupted at iteration %lld; saved %s (continue with --resume)\n", o.program.c_str(),
               static_cast<long long>(state.iteration), o.checkpoint.c_str());
}

// The progress bar's words after an iteration: the epoch (when counted) and the loss.
std::string status_text(const LossReader& losses, const TrainLoopOptions& o, int64_t iteration, int64_t epochs) {
  std::string status = losses.any() ? "loss " + fmt(losses.smooth()) : "";
  if (epochs > 0)
    status = "epoch " + std::to_string(iteration / o.per_epoch + 1) + "/" + std::to_string(epochs) + "  " + status;
  return status;
}

}  // namespace

bool train_loop(nn::Module& model, nn::AdamW& opt, nn::EMA* ema, TrainState& state, const LossFn& loss_fn,
                const TrainLoopOptions& o, const std::function<void()>& save, double* smooth_loss) {
  // The loop stops at the top of an iteration on every rank together and checkpoints;
  // the cancellation points inside a step (the bar, a teacher's solver) must not throw.
  SavesOnInterrupt saves;
  Phase phase(o.label);
  ProgressBar bar(o.iterations, o.label, state.iteration);
  const dist::Rows rows = dist::my_rows(o.batch);
  LossReader losses(state, rows.count() != o.batch);  // read from the device every LossReader::kEvery steps
  const int64_t epochs = o.per_epoch > 0 ? (o.iterations + o.per_epoch - 1) / o.per_epoch : 0;
  nn::check_replicas_agree(model, state.iteration);
  const Device device = model.parameters().empty() ? Device::CPU : model.parameters().front()->device();
  const int64_t first_iteration = state.iteration;
  for (; state.iteration < o.iterations; ++state.iteration) {
    // (--interrupt-at acts on the last rank alone: the others learn of it as of a Ctrl-C.)
    if (state.iteration == o.interrupt_at && dist::rank() == dist::size() - 1) request_interrupt();
    if (dist::any(interrupted())) {  // every rank stops at the same iteration
      stop_for_interrupt(model, state, losses, o, save);
      return false;
    }
    const StepCounters counters(device);
    Tensor loss = loss_fn(state.iteration, rows);
    optimizer_step(model, opt, ema, loss, o, state.iteration);
    losses.add(loss);
    const bool saving = o.checkpoint_every > 0 && (state.iteration + 1) % o.checkpoint_every == 0 &&
                        state.iteration + 1 < o.iterations;
    const bool read_losses = losses.due() || saving || state.iteration + 1 == o.iterations;
    if (read_losses) losses.flush(state.iteration + 1);
    bar.update(state.iteration + 1, status_text(losses, o, state.iteration, epochs));
    const bool replica_check = o.replica_check_every > 0 && (state.iteration + 1) % o.replica_check_every == 0;
    if (o.host_waits && !read_losses && !saving && !replica_check)  // a steady step
      counters.add_step_to(*o.host_waits, state.iteration == first_iteration);
    if (replica_check) nn::check_replicas_agree(model, state.iteration + 1);
    if (saving && dist::is_root()) {
      ++state.iteration;  // the checkpoint records the iterations done
      save();
      --state.iteration;
    }
  }
  nn::check_replicas_agree(model, state.iteration);
  bar.finish("loss " + fmt(losses.smooth()));
  if (smooth_loss) *smooth_loss = losses.smooth();
  return true;
}

}  // namespace fc::app
