"""Human-facing pages built from the warehouse and the manifest.

- `dashboard.render_dashboard`: one self-contained HTML page per `dashboards:` node
  (`mlmon dashboard NAME`), with plotly charts and plotly.js inlined once; each tile type is
  built by `tiles` (one module per family of tiles), with chart pieces from `figures`.
- `flow.render_flow`: the project's flow (nodes, edges, zones, configs, SQL and latest
  statuses) as a single page (`mlmon docs`).
- `data`: the read-only queries both pages run against the `mlmon.*` system tables.
- `browser`: a small headless-Chromium driver used to check that the pages really render.

Every page works offline: nothing is loaded from the network when it is opened.
"""

__all__: list[str] = []
