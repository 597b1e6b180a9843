// Draws a frame's boxes and landmarks over the video. Boxes are normalised to [0, 1] of the frame.

/**
 * Draws `match` (from ResultStore.lookup) and returns what was drawn: 'exact' (the frame's own
 * result, solid), 'stale' (an earlier frame's result, dashed and labelled stale) or 'none'.
 * With `approximate` (arrival-order pairing, ResultStore.lookupArrival) the paired result is only
 * probably the frame's own: it is drawn in its own colour, labelled "(approx.)", and 'approximate'
 * is returned instead of 'exact'.
 */
export function drawOverlay(canvas, match, { approximate = false } = {}) {
  const width = canvas.clientWidth, height = canvas.clientHeight;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, width, height);
  ctx.font = '13px system-ui, sans-serif';
  if (match?.own && match.own.status !== 'ok') {
    ctx.fillStyle = 'rgba(0,0,0,0.6)';
    ctx.fillRect(4, 4, 150, 18);
    ctx.fillStyle = '#fc6';
    ctx.fillText(`no result: ${match.own.status}`, 8, 17);
  }
  const exact = match?.own?.status === 'ok';
  const result = exact ? match.own : match?.stale;
  if (!result) return 'none';
  ctx.lineWidth = 2;
  ctx.setLineDash(exact ? [] : [6, 4]);
  const colour = !exact ? '#999' : approximate ? '#fa3' : '#3f6';
  const suffix = !exact ? ' (stale)' : approximate ? ' (approx.)' : '';
  for (const d of result.detections ?? []) {
    const x = d.box.x * width, y = d.box.y * height, w = d.box.w * width, h = d.box.h * height;
    ctx.strokeStyle = colour;
    ctx.strokeRect(x, y, w, h);
    const label = `${d.label} ${(d.score * 100).toFixed(0)}%${suffix}`;
    ctx.fillStyle = 'rgba(0,0,0,0.6)';
    ctx.fillRect(x, y - 17, ctx.measureText(label).width + 8, 17);
    ctx.fillStyle = colour;
    ctx.fillText(label, x + 4, y - 4);
    for (const { x: lx, y: ly } of d.landmarks ?? []) {
      ctx.fillRect(lx * width - 2, ly * height - 2, 4, 4);
    }
  }
  return !exact ? 'stale' : approximate ? 'approximate' : 'exact';
}
