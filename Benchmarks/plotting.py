"""The benchmark scripts' plots: matplotlib headless (Agg), or None when it is not installed; one finish."""


def pyplot(log):
    """matplotlib.pyplot with the Agg backend; None (after logging why) when matplotlib cannot be imported."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as e:
        log(f"(no plot: matplotlib unavailable: {e})")
        return None
    return plt


def save(plt, fig, ax, path):
    """The benchmarks' common finish: the legend outside on the right, a horizontal grid, a PNG at 110 dpi."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.005, 1.0))
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
