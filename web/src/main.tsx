import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { loadConfig } from "./config";
import { builderRoute, loadBuilder } from "./builder/preload";
import "./styles.css";

if (builderRoute(location.pathname)) void loadBuilder(); // its chunk downloads while the config loads
const root = createRoot(document.getElementById("root") as HTMLElement);
loadConfig()
  .then((config) =>
    root.render(
      <StrictMode>
        <App config={config} />
      </StrictMode>,
    ),
  )
  .catch((err: Error) => root.render(<p role="alert">The dashboard could not load its settings: {err.message}</p>));
