package io.machinery.dashboard;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/** Reading a request and writing a JSON answer or a download: the plumbing of {@link Api}. */
final class Exchanges {
  private static final int MAX_BODY = 256 * 1024;

  private Exchanges() {}

  static JsonNode body(HttpExchange exchange) throws IOException {
    byte[] bytes;
    try (InputStream in = exchange.getRequestBody()) {
      bytes = in.readNBytes(MAX_BODY + 1);
    }
    if (bytes.length > MAX_BODY) {
      throw new Guard.Refused(413, "the request body is over " + MAX_BODY + " bytes");
    }
    if (bytes.length == 0) {
      return Guard.JSON.createObjectNode();
    }
    try {
      JsonNode node = Guard.JSON.readTree(bytes);
      if (node == null || !node.isObject()) {
        throw new IllegalArgumentException("the request body must be a JSON object");
      }
      return node;
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("the request body is not JSON: " + e.getOriginalMessage());
    }
  }

  static void json(HttpExchange exchange, JsonNode node) throws IOException {
    Guard.send(
        exchange, 200, "application/json; charset=utf-8", Guard.JSON.writeValueAsBytes(node));
  }

  static void download(HttpExchange exchange, String filename, String type, byte[] body)
      throws IOException {
    exchange
        .getResponseHeaders()
        .set("Content-Disposition", "attachment; filename=\"" + filename + "\"");
    Guard.send(exchange, 200, type, body);
  }

  /** A file name from untrusted text: letters, digits, dash, dot, underscore. */
  static String safe(String s) {
    String cleaned = s.replaceAll("[^A-Za-z0-9._-]", "_");
    return cleaned.length() > 80 ? cleaned.substring(0, 80) : cleaned;
  }

  static String required(Map<String, String> q, String name) {
    String value = q.get(name);
    if (value == null || value.isBlank()) {
      throw new IllegalArgumentException("the query parameter " + name + " is required");
    }
    return value;
  }

  static int intParam(Map<String, String> q, String name, int dflt, int min, int max) {
    String value = q.get(name);
    if (value == null || value.isEmpty()) {
      return dflt;
    }
    try {
      int n = Integer.parseInt(value);
      if (n < min || n > max) {
        throw new IllegalArgumentException(name + " must be " + min + ".." + max + ", was " + n);
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a number, was " + value);
    }
  }

  static Map<String, String> query(HttpExchange exchange) {
    Map<String, String> out = new LinkedHashMap<>();
    String raw = exchange.getRequestURI().getRawQuery();
    if (raw == null || raw.isEmpty()) {
      return out;
    }
    for (String pair : raw.split("&")) {
      int eq = pair.indexOf('=');
      String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      String value =
          eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      out.putIfAbsent(key, value);
    }
    return out;
  }
}
