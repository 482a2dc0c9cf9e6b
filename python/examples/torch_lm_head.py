"""A byte-level bigram language model in PyTorch whose LM head is xent.torch.LinearCrossEntropyLoss:

    python torch_lm_head.py [--steps 200] [--batch 2048] [--dim 64] [--compile] [--check] [--log-every 25]

The model: an embedding (256 x dim) of the previous byte, a tanh, and the LM head — the module's ``.linear``
(256 x dim weight and bias, laid out as in torch.nn.LinearCrossEntropyLoss) — predicting the next byte of this
repository's own text (its *.py, *.swift and *.md files; a generated text if there are none). Swapping the loss is
one import: ``torch.nn.LinearCrossEntropyLoss`` works in its place. The logits (batch x 256) never exist; AdamW
trains everything through ordinary autograd. ``--compile`` wraps the model (forward and backward) in
``torch.compile(fullgraph=True)``; ``--check`` also runs PyTorch's own module from the same start and prints the
largest difference of the final losses.
"""

import argparse
import math
import pathlib
import time

import torch

import xent.torch as xt


def corpus(limit=4 << 20):
    root = pathlib.Path(__file__).resolve().parents[2]
    parts, size = [], 0
    for pattern in ("*.py", "*.swift", "*.md"):
        for p in sorted(root.rglob(pattern)):
            if ".build" in p.parts or size >= limit:
                continue
            parts.append(p.read_bytes())
            size += len(parts[-1])
    text = b"".join(parts) or bytes(range(32, 127)) * 1000
    return torch.frombuffer(bytearray(text), dtype=torch.uint8).long()


class Bigram(torch.nn.Module):
    def __init__(self, dim, head):
        super().__init__()
        self.embed = torch.nn.Embedding(256, dim)
        self.head = head(dim, 256, bias=True, ignore_index=-100, label_smoothing=0.05)

    def forward(self, prev, nxt):
        return self.head(torch.tanh(self.embed(prev)), nxt)


def train(head, data, args):
    torch.manual_seed(0)
    model = Bigram(args.dim, head)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-2)

    forward = torch.compile(model, fullgraph=True) if args.compile else model
    gen = torch.Generator().manual_seed(1)
    losses = []
    for step in range(args.steps):
        i = torch.randint(0, data.numel() - 1, (args.batch,), generator=gen)
        opt.zero_grad(set_to_none=True)
        loss = forward(data[i], data[i + 1])
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if args.log_every and (step % args.log_every == 0 or step == args.steps - 1):
            print(f"  step {step:4d}  loss {losses[-1]:.4f} nats/byte  perplexity {math.exp(losses[-1]):7.3f}")
    return losses


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--log-every", type=int, default=25)
    args = parser.parse_args()
    data = corpus()
    mib = 4 * args.batch / 2**20  # float32 logits and their gradient per class, MiB
    print(f"The logits this head never stores: {args.batch} x 256 float32 = {256 * mib:.1f} MiB per step (and as")
    print(f"much for their gradient); with a 128256-token vocabulary, {128256 * mib:.0f} MiB.")
    t0 = time.perf_counter()
    losses = train(xt.LinearCrossEntropyLoss, data, args)
    took = time.perf_counter() - t0
    print(f"{data.numel()} bytes of text; {args.steps} steps of {args.batch} pairs in {took:.2f} s")
    print(f"loss (nats/byte): first {losses[0]:.4f}, last {losses[-1]:.4f}; perplexity {math.exp(losses[-1]):.3f}")
    if args.check:
        args.log_every = 0
        t0 = time.perf_counter()
        ref = train(torch.nn.LinearCrossEntropyLoss, data, args)
        took = time.perf_counter() - t0
        diff = max(abs(a - b) for a, b in zip(losses, ref))
        print(f"torch.nn.LinearCrossEntropyLoss: {took:.2f} s, last {ref[-1]:.4f}; largest |difference| {diff:.2e}")


if __name__ == "__main__":
    main()
