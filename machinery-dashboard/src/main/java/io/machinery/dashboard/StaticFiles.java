package io.machinery.dashboard;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;

/** Serves the page's three hand-written files from the jar; nothing else, whatever the path. */
final class StaticFiles {
  private static final Map<String, String> FILES =
      Map.of(
          "/", "index.html",
          "/index.html", "index.html",
          "/app.js", "app.js",
          "/app.css", "app.css",
          "/favicon.svg", "favicon.svg");

  private StaticFiles() {}

  static void handle(HttpExchange exchange) throws IOException {
    String method = exchange.getRequestMethod();
    if (!method.equals("GET") && !method.equals("HEAD")) {
      throw new Guard.Refused(405, "only GET here");
    }
    String name = FILES.get(exchange.getRequestURI().getPath());
    if (name == null) {
      throw new Guard.Refused(
          404,
          "no such page: "
              + Exchanges.quote(exchange.getRequestURI().getPath())
              + "; the dashboard is at /");
    }
    byte[] body;
    try (InputStream in = StaticFiles.class.getResourceAsStream("static/" + name)) {
      if (in == null) {
        throw new IllegalStateException(
            "the dashboard's file " + name + " is missing from the jar");
      }
      body = in.readAllBytes();
    }
    Guard.send(exchange, 200, contentType(name), body);
  }

  private static String contentType(String name) {
    if (name.endsWith(".html")) {
      return "text/html; charset=utf-8";
    }
    if (name.endsWith(".js")) {
      return "text/javascript; charset=utf-8";
    }
    if (name.endsWith(".css")) {
      return "text/css; charset=utf-8";
    }
    return "image/svg+xml";
  }
}
