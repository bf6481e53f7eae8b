@NullMarked
package io.machinery.config;

import org.jspecify.annotations.NullMarked;
