"""A table as markdown, CSV rows and a PNG of the changes."""
import math
import os.path as osp

from .rows import DELTAS, METRICS
from .stats import RESOLUTION

MISSING = '—'


def _num(value, digits=1, sign=False):
    if value is None:
        return MISSING
    return f'{value:+.{digits}f}' if sign else f'{value:.{digits}f}'


def _delta_cell(mean, ci):
    if mean is None:
        return MISSING
    if ci is None:
        return _num(mean, sign=True)
    return f'{mean:+.1f} [{mean - ci:+.1f}, {mean + ci:+.1f}]'


def markdown(title: str, entries, seeds) -> str:
    columns = (['row', 'toy config', 'seeds'] + list(METRICS.values()) +
               [f'Δ {METRICS[k]}' for k in DELTAS] +
               [f'seeds for ±{RESOLUTION}', 'paper AP', 'paper Δ'])
    lines = [
        f'**{title}** (toy set; AP points, mean ± std over seeds '
        f'{" ".join(map(str, seeds))}; Δ: paired by seed, mean [95% CI]; '
        'paper: COCO val2017 mask AP)', '', '| ' + ' | '.join(columns) + ' |',
        '| --- ' * len(columns) + '|'
    ]
    for e in entries:
        row = e['row']
        cells = [
            row.label if row.base else f'**{row.label}**',
            f'`{osp.basename(row.toy)[:-3]}`',
            str(len(e['records'])) if e['records'] else MISSING
        ]
        for key in METRICS:
            text = _num(e['mean'][key])
            if e['std'][key] is not None:
                text += f' ± {e["std"][key]:.1f}'
            cells.append(text)
        paper = MISSING if row.paper is None else f'{row.paper:.1f}'
        if row.base is None:
            cells += ['baseline'] * len(DELTAS) + ['', paper, '']
        else:
            cells += [_delta_cell(e['delta'][k], e['ci'][k]) for k in DELTAS]
            needed = e['seeds_needed']
            cells.append(MISSING if needed is None else str(needed))
            cells += [paper, _num(e['paper_delta'], sign=True)]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def csv_rows(table: str, entries):
    header = [
        'table', 'row', 'baseline', 'toy_config', 'coco_config', 'seeds'
    ] + [k.split('/')[1] for k in METRICS]
    header += [f'delta_{k.split("/")[1]}' for k in DELTAS]
    header += [f'ci95_{k.split("/")[1]}' for k in DELTAS]
    header += [f'seeds_for_ci{RESOLUTION}_{DELTAS[0].split("/")[1]}']
    header += ['paper_mask_AP', 'paper_delta']
    rows = [header]
    for e in entries:
        row = e['row']
        line = [
            table, row.label, row.base or '', row.toy, row.coco or '',
            ' '.join(map(str, e['records']))
        ]
        line += [e['mean'][k] for k in METRICS]
        line += [e.get('delta', {}).get(k) for k in DELTAS]
        line += [e.get('ci', {}).get(k) for k in DELTAS]
        line += [e.get('seeds_needed')]
        line += [row.paper, e.get('paper_delta')]
        rows.append(['' if v is None else v for v in line])
    return rows


def plot(title: str, entries, out_file: str) -> None:
    """Bars of each row's change over its baseline: ours (segm mAP and
    Boundary AP, with the 95% CI) and the paper's (mask AP)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = [e for e in entries if e['row'].base]
    series = [(f'toy Δ {METRICS[k]} [95% CI]', color,
               [(e['delta'][k], e['ci'][k]) for e in rows])
              for k, color in zip(DELTAS, ('#4c72b0', '#55a868'))]
    series.append(
        ('paper Δ mask AP (COCO)', '#c44e52', [(e['paper_delta'], None)
                                               for e in rows]))
    width = 0.27
    fig, ax = plt.subplots(figsize=(max(6., 1.6 * len(rows) + 2), 4.2))
    for i, (name, color, values) in enumerate(series):
        xs = [x + (i - 1) * width for x in range(len(rows))]
        heights = [math.nan if v is None else v for v, _ in values]
        ax.bar(xs, heights, width, label=name, color=color)
        for x, (v, ci) in zip(xs, values):
            if v is not None and ci is not None:
                ax.errorbar(x, v, yerr=ci, color='black', capsize=3)
    ax.axhline(0, color='black', linewidth=0.8)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([f'{e["row"].label}\nvs {e["row"].base}' for e in rows],
                       fontsize=8)
    ax.set_ylabel('Δ AP (points) over the baseline')
    ax.set_title(title, fontsize=9)
    fig.legend(loc='lower center', ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(out_file, dpi=100)
    plt.close(fig)
