from .bases import bases_figure, capture_bases
from .local_visualizer import B2InstLocalVisualizer, boundary_on_image, heatmap

__all__ = [
    'B2InstLocalVisualizer', 'bases_figure', 'boundary_on_image',
    'capture_bases', 'heatmap'
]
