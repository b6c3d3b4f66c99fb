// interference: superposed circular waves from 2-6 point sources.
vec3 image(vec2 p) {
    int sources = 2 + int(u_p0.x * 5.0);
    float k = mix(10.0, 60.0, u_p0.y);
    float sum = 0.0;
    for (int i = 0; i < 6; i++) {
        if (i >= sources) break;
        vec2 c = (vec2(hash11(uint(2 * i)), hash11(uint(2 * i + 1))) - 0.5) * 2.4;
        sum += sin(length(p - c) * k - u_time * 2.0);
    }
    float v = sum / float(sources);
    return pal(mix(v * 0.5 + 0.5, abs(v), u_p0.z));
}
