import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** Axis colours that match the app's dark theme. */
export const AXIS_STYLE = { stroke: '#8b949e', grid: { stroke: '#30363d' } };

/** A uPlot chart in `container` that keeps the container's width; `destroy` undoes it all. */
export function mountResponsivePlot(
  container: HTMLElement,
  options: Omit<uPlot.Options, 'width'>,
  data: uPlot.AlignedData,
): { plot: uPlot; destroy: () => void } {
  const plot = new uPlot({ ...options, width: container.clientWidth || 600 }, data, container);
  const resize = new ResizeObserver(() =>
    plot.setSize({ width: container.clientWidth, height: options.height }),
  );
  resize.observe(container);
  return {
    plot,
    destroy: () => {
      resize.disconnect();
      plot.destroy();
    },
  };
}
