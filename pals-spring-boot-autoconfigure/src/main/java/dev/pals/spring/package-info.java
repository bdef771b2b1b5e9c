/**
 * The annotation for locked service methods: {@link dev.pals.spring.AdvisoryLocked}.
 */
@NullMarked
package dev.pals.spring;

import org.jspecify.annotations.NullMarked;
