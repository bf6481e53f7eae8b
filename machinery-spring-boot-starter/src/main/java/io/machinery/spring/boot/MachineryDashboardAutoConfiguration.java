package io.machinery.spring.boot;

import io.machinery.Server;
import io.machinery.dashboard.Dashboard;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;

/**
 * The embedded dashboard ({@code machinery-dashboard}'s {@link Dashboard}) for the application's
 * {@link Server}, when that module is on the classpath and {@code
 * machinery.dashboard.enabled=true}. It listens on its own port (the JDK's HTTP server, beside the
 * application's web server, if any), is started with the context and closed with it; settings under
 * {@code machinery.dashboard.*} ({@link MachineryDashboardProperties}).
 */
@AutoConfiguration(after = MachineryAutoConfiguration.class)
@ConditionalOnClass(Dashboard.class)
@ConditionalOnBean(Server.class)
@ConditionalOnBooleanProperty(name = "machinery.dashboard.enabled")
@EnableConfigurationProperties(MachineryDashboardProperties.class)
public class MachineryDashboardAutoConfiguration {

  @Bean(initMethod = "start", destroyMethod = "close")
  @ConditionalOnMissingBean
  Dashboard machineryDashboard(Server server, MachineryDashboardProperties properties) {
    Dashboard.Builder builder =
        Dashboard.builder(server)
            .port(properties.getPort())
            .bindAddress(properties.getBindAddress())
            .readOnly(properties.isReadOnly())
            .openReads(properties.isOpenReads())
            .readTimeout(properties.getReadTimeout())
            .maxConcurrentReads(properties.getMaxConcurrentReads());
    String token = properties.getToken();
    if (token != null && !token.isEmpty()) {
      builder.token(token);
    }
    return builder.build();
  }
}
