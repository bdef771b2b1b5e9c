/**
 * Micrometer for PALs: observations of acquisitions and critical sections (spans, and timers
 * through Spring Boot's meter handler), and gauges and a lost-lock counter for the registry.
 */
@NullMarked
package dev.pals.spring.observability;

import org.jspecify.annotations.NullMarked;
