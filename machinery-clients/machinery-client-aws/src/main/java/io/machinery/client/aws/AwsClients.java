package io.machinery.client.aws;

import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProviderChain;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.client.builder.AwsClientBuilder;
import software.amazon.awssdk.awscore.client.builder.AwsSyncClientBuilder;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.AwsProfileRegionProvider;
import software.amazon.awssdk.regions.providers.AwsRegionProvider;
import software.amazon.awssdk.regions.providers.AwsRegionProviderChain;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.regions.providers.SystemSettingsRegionProvider;

/**
 * How to build an AWS SDK v2 client: region, credentials, an optional endpoint override and the
 * HTTP client. Immutable; build clients with {@link #build}, e.g. {@code
 * AwsClients.forSqsBroker(url).build(SqsClient.builder())}. Whoever builds a client closes it (the
 * SQS broker and DynamoDB backend close the clients they build, never one passed in).
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>HTTP client.</b> The SDK's Apache HttpClient 5 client with a pool of {@value
 *       #MAX_CONNECTIONS} connections: no Netty, whose version the Redis and AMQP modules pin. The
 *       lighter URL-connection client was tried first and measured: the JDK keeps at most 5 idle
 *       connections per host, so a busy worker (pollers, heartbeat, deletes, senders) opened a new
 *       TCP connection for most calls (hundreds in TIME-WAIT after a benchmark). The socket timeout
 *       is above SQS's longest long poll (20 s).
 *   <li><b>Go's URLs.</b> Go Machinery's SQS broker URL is the account URL a queue name is appended
 *       to ({@code https://sqs.us-east-2.amazonaws.com/123456789012}); its region is read from the
 *       host. Any other host (an emulator such as ElasticMQ) becomes the endpoint override. Go's
 *       DynamoDB backend takes its endpoint from the SDK's default chain; here a result backend URL
 *       of {@code https://dynamodb.<region> .amazonaws.com} gives the region, {@code
 *       http(s)://host:port} an endpoint override, and {@code dynamodb://} the SDK defaults.
 *   <li><b>Credentials.</b> The SDK's default chain (environment, profile, container, instance
 *       role). For a loopback endpoint (an emulator on this machine) dummy credentials follow it in
 *       the chain, since emulators accept any.
 *   <li><b>Region.</b> Explicit, else from the URL, else the SDK's default chain, else {@value
 *       #FALLBACK_REGION}. For a loopback endpoint the chain stops before the instance metadata
 *       service: off EC2 that lookup waits for its timeouts (0.77 s measured on every client
 *       built), and an emulator on this machine does not care about the region. Go's SDK v1 never
 *       asks the metadata service for a region either.
 * </ul>
 */
public final class AwsClients {
  /** Used when neither the URL nor the environment names a region. */
  public static final String FALLBACK_REGION = "us-east-1";

  /** Read timeout of the HTTP client: above SQS's longest long poll (20 s). */
  public static final Duration DEFAULT_SOCKET_TIMEOUT = Duration.ofSeconds(35);

  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);

  /**
   * Pooled connections per client: pollers, heartbeat, batched deletes and senders of a busy
   * worker.
   */
  static final int MAX_CONNECTIONS = 64;

  private static final Pattern AWS_HOST =
      Pattern.compile("(?:sqs|dynamodb)(?:-fips)?\\.([a-z0-9-]+)\\.amazonaws\\.com(?:\\.cn)?");

  private final @Nullable URI endpoint;
  private final @Nullable Region region;
  private final @Nullable AwsCredentialsProvider credentials;
  private final Duration socketTimeout;
  private final Duration connectTimeout;

  private AwsClients(Builder b) {
    this.endpoint = b.endpoint;
    this.region = b.region;
    this.credentials = b.credentials;
    this.socketTimeout = b.socketTimeout;
    this.connectTimeout = b.connectTimeout;
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    Builder b = new Builder();
    b.endpoint = endpoint;
    b.region = region;
    b.credentials = credentials;
    b.socketTimeout = socketTimeout;
    b.connectTimeout = connectTimeout;
    return b;
  }

  /**
   * Settings for Go's SQS broker URL (the account URL): {@code
   * https://sqs.<region>.amazonaws.com/<account>} gives the region and the SDK's own endpoint; any
   * other URL's scheme, host and port become the endpoint override ({@code
   * http://127.0.0.1:9324/000000000000} for ElasticMQ).
   *
   * @throws IllegalArgumentException when {@code brokerUrl} is not an http(s) URL
   */
  public static AwsClients forSqsBroker(String brokerUrl) {
    URI uri = parse(brokerUrl, "SQS broker URL");
    if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())) {
      throw new IllegalArgumentException(
          "An SQS broker URL is the queue URL prefix, e.g."
              + " https://sqs.us-east-2.amazonaws.com/123456789012 (was '"
              + brokerUrl
              + "')");
    }
    return fromHost(uri).build();
  }

  /**
   * Settings for a DynamoDB result backend URL: {@code https://dynamodb.<region>.amazonaws.com}
   * (region), {@code http(s)://host:port} (endpoint override, e.g. a local emulator), or {@code
   * dynamodb://} (the SDK's defaults, as Go Machinery's backend uses).
   *
   * @throws IllegalArgumentException for any other form
   */
  public static AwsClients forDynamoDbBackend(String resultBackend) {
    if (resultBackend.equals("dynamodb") || resultBackend.startsWith("dynamodb://")) {
      return builder().build();
    }
    URI uri = parse(resultBackend, "DynamoDB result backend URL");
    if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())) {
      throw new IllegalArgumentException(
          "A DynamoDB result backend is dynamodb:// (SDK defaults),"
              + " https://dynamodb.<region>.amazonaws.com or http(s)://host:port of an endpoint (was '"
              + resultBackend
              + "')");
    }
    return fromHost(uri).build();
  }

  private static Builder fromHost(URI uri) {
    Builder b = builder();
    String host = Objects.requireNonNull(uri.getHost(), "host").toLowerCase(Locale.ROOT);
    Matcher aws = AWS_HOST.matcher(host);
    if (aws.matches()) {
      return b.region(Region.of(aws.group(1)));
    }
    return b.endpoint(URI.create(uri.getScheme() + "://" + uri.getRawAuthority()));
  }

  private static URI parse(String url, String what) {
    try {
      URI uri = new URI(url);
      if (uri.getHost() == null) {
        throw new IllegalArgumentException("The " + what + " '" + url + "' has no host");
      }
      return uri;
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(
          "The " + what + " '" + url + "' is not a URL: " + e.getMessage(), e);
    }
  }

  /** The endpoint override, if any. */
  public Optional<URI> endpoint() {
    return Optional.ofNullable(endpoint);
  }

  /**
   * The region clients get: explicit, from the URL, from the SDK's default chain (for a loopback
   * endpoint without its instance-metadata step), or {@value #FALLBACK_REGION}.
   */
  public Region region() {
    if (region != null) {
      return region;
    }
    AwsRegionProvider chain =
        endpoint != null && isLoopback(endpoint.getHost())
            ? new AwsRegionProviderChain(
                new SystemSettingsRegionProvider(), new AwsProfileRegionProvider())
            : DefaultAwsRegionProviderChain.builder().build();
    try {
      return chain.getRegion();
    } catch (RuntimeException e) {
      return Region.of(FALLBACK_REGION);
    }
  }

  /** Configures {@code builder} with these settings and builds the client; the caller closes it. */
  public <B extends AwsClientBuilder<B, C> & AwsSyncClientBuilder<B, C>, C> C build(B builder) {
    builder
        .region(region())
        .credentialsProvider(credentialsProvider())
        .httpClientBuilder(
            Apache5HttpClient.builder()
                .socketTimeout(socketTimeout)
                .connectionTimeout(connectTimeout)
                .maxConnections(MAX_CONNECTIONS));
    if (endpoint != null) {
      builder.endpointOverride(endpoint);
    }
    return builder.build();
  }

  AwsCredentialsProvider credentialsProvider() {
    if (credentials != null) {
      return credentials;
    }
    if (endpoint != null && isLoopback(endpoint.getHost())) {
      return AwsCredentialsProviderChain.builder()
          .reuseLastProviderEnabled(true)
          .credentialsProviders(
              DefaultCredentialsProvider.builder().build(),
              StaticCredentialsProvider.create(AwsBasicCredentials.create("local", "local")))
          .build();
    }
    return DefaultCredentialsProvider.builder().build();
  }

  private static boolean isLoopback(@Nullable String host) {
    if (host == null) {
      return false;
    }
    if (host.equalsIgnoreCase("localhost")) {
      return true;
    }
    try {
      // Only literal addresses: a name is never resolved here.
      return (host.matches("[0-9.]+") || host.startsWith("["))
          && InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  @Override
  public String toString() {
    return "AwsClients{region="
        + (region == null ? "(default chain)" : region)
        + ", endpoint="
        + (endpoint == null ? "(SDK default)" : endpoint)
        + "}";
  }

  /** Builds {@link AwsClients}; every setting is optional. */
  public static final class Builder {
    private @Nullable URI endpoint;
    private @Nullable Region region;
    private @Nullable AwsCredentialsProvider credentials;
    private Duration socketTimeout = DEFAULT_SOCKET_TIMEOUT;
    private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;

    private Builder() {}

    /**
     * Where requests go instead of the SDK's endpoint for the region (an emulator, a VPC endpoint).
     */
    public Builder endpoint(@Nullable URI value) {
      if (value != null && (value.getScheme() == null || value.getHost() == null)) {
        throw new IllegalArgumentException(
            "An endpoint needs a scheme and a host, e.g. http://127.0.0.1:9324 (was "
                + value
                + ")");
      }
      endpoint = value;
      return this;
    }

    public Builder region(@Nullable Region value) {
      region = value;
      return this;
    }

    /** The credentials; default: the SDK's default chain. */
    public Builder credentials(@Nullable AwsCredentialsProvider value) {
      credentials = value;
      return this;
    }

    public Builder socketTimeout(Duration value) {
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException("socketTimeout must be positive, was " + value);
      }
      socketTimeout = value;
      return this;
    }

    public Builder connectTimeout(Duration value) {
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException("connectTimeout must be positive, was " + value);
      }
      connectTimeout = value;
      return this;
    }

    public AwsClients build() {
      return new AwsClients(this);
    }
  }
}
