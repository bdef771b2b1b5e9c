package dev.pals.spring.leader;

import org.springframework.context.ApplicationEvent;

/** Published when this instance becomes the leader, on the election's thread. */
public class LeadershipGrantedEvent extends ApplicationEvent {

    private static final long serialVersionUID = 1L;

    /** Leadership of {@code source} granted. */
    public LeadershipGrantedEvent(Leadership source) {
        super(source);
    }

    /** The election. */
    public Leadership getLeadership() {
        return (Leadership) getSource();
    }
}
