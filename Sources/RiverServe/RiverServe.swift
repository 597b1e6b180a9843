// RiverServe: The per-session pipeline, the delay line, HTTP signalling, metrics and the web app.
// See DESIGN.md for how this module fits the data path.
