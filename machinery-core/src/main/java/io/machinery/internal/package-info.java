@NullMarked
package io.machinery.internal;

import org.jspecify.annotations.NullMarked;
