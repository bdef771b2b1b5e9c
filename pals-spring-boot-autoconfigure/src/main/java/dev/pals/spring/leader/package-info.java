/**
 * Leader election for Spring: one instance of the service leads while it holds one advisory lock,
 * with application events when leadership is granted and revoked.
 */
@NullMarked
package dev.pals.spring.leader;

import org.jspecify.annotations.NullMarked;
